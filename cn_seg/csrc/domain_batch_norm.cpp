// Training-mode batch norm with one bank per domain, fused per channel.
//
// Sample n of the batch belongs to domain k(n), in any order. Each channel is
// one task: its rows (one per sample) are reduced per domain and then
// normalized (forward) or turned into the input gradient (backward) while they
// are still in cache, so the data cross memory about as often as in ATen's own
// batch norm, with no gather, scatter or copy for unordered domains.
#include <ATen/Parallel.h>

#include <cmath>

#include "kernels.h"
#include "row_ops.h"

namespace cn_seg {

namespace {

struct Shape {
  int64_t n, c, s;  // samples, channels, elements per (sample, channel) row
};

Shape shape_of(const at::Tensor& x) {
  const int64_t n = x.size(0), c = x.size(1);
  return {n, c, n * c > 0 ? x.numel() / (n * c) : 0};
}

Shape check_input(const at::Tensor& x, const at::Tensor& domain, int64_t num_domains,
                  const char* name) {
  TORCH_CHECK(x.device().is_cpu() && x.is_contiguous() && x.dim() >= 2, name,
              " needs a contiguous CPU tensor (N, C, ...)");
  TORCH_CHECK(domain.device().is_cpu() && domain.scalar_type() == at::kLong &&
                  domain.dim() == 1 && domain.numel() == x.size(0),
              name, ": domain must be a CPU LongTensor with one entry per sample");
  TORCH_CHECK(num_domains > 0, name, ": num_domains must be positive");
  // A loop over the indices, not min()/max() ops: no extra dispatches.
  const auto* pd = domain.data_ptr<int64_t>();
  for (int64_t i = 0; i < domain.numel(); ++i) {
    TORCH_CHECK(pd[i * domain.stride(0)] >= 0 && pd[i * domain.stride(0)] < num_domains, name,
                ": domain indices must be in [0, num_domains)");
  }
  return shape_of(x);
}

// A (num_domains, C) parameter as a contiguous tensor of x's dtype, or none.
at::Tensor bank(const c10::optional<at::Tensor>& t, const at::Tensor& x,
                int64_t num_domains) {
  if (!t.has_value() || !t->defined()) return at::Tensor();
  TORCH_CHECK(t->dim() == 2 && t->size(0) == num_domains && t->size(1) == x.size(1),
              "per-domain parameters must have shape (num_domains, C)");
  return t->contiguous().to(x.scalar_type());
}

// Elements per channel of each domain.
std::vector<double> domain_counts(const int64_t* dom, const Shape& sh, int64_t t) {
  std::vector<double> count(t, 0.0);
  for (int64_t i = 0; i < sh.n; ++i) count[dom[i]] += double(sh.s);
  return count;
}

int64_t grain(const Shape& sh) {
  return std::max<int64_t>(1, 32768 / std::max<int64_t>(sh.n * sh.s, 1));
}

// Channel c's per-domain mean and biased variance (two passes over its rows,
// which stay in cache), written to mean/var/invstd at [k * C + c].
template <typename T>
inline void channel_moments(const T* px, const int64_t* dom, const Shape& sh, int64_t t,
                            const std::vector<double>& count, double eps, int64_t c,
                            std::vector<double>& acc, T* pmean, T* pvar, T* pinv) {
  std::fill(acc.begin(), acc.end(), 0.0);
  for (int64_t n = 0; n < sh.n; ++n) acc[dom[n]] += row_sum(px + (n * sh.c + c) * sh.s, sh.s);
  for (int64_t k = 0; k < t; ++k)
    pmean[k * sh.c + c] = count[k] > 0 ? T(acc[k] / count[k]) : T(0);
  std::fill(acc.begin(), acc.end(), 0.0);
  for (int64_t n = 0; n < sh.n; ++n)
    acc[dom[n]] += row_sq_dev(px + (n * sh.c + c) * sh.s, sh.s, pmean[dom[n] * sh.c + c]);
  for (int64_t k = 0; k < t; ++k) {
    const double v = count[k] > 0 ? acc[k] / count[k] : 0.0;
    pvar[k * sh.c + c] = T(v);
    if (pinv) pinv[k * sh.c + c] = count[k] > 0 ? T(1.0 / std::sqrt(v + eps)) : T(1);
  }
}

// out = (x - mean[k]) * invstd[k] * weight[k] + bias[k] for channel c.
template <typename T>
inline void channel_normalize(const T* px, const int64_t* dom, const Shape& sh, const T* pmean,
                              const T* pinv, const T* pw, const T* pb, int64_t c, T* po) {
  for (int64_t n = 0; n < sh.n; ++n) {
    const int64_t row = dom[n] * sh.c + c;
    const T scale = pw ? pw[row] * pinv[row] : pinv[row];
    const T shift = pb ? pb[row] : T(0);
    const int64_t at = (n * sh.c + c) * sh.s;
    row_normalize(px + at, sh.s, pmean[row], scale, shift, po + at);
  }
}

template <typename T>
void forward_kernel(const at::Tensor& x, const int64_t* dom, int64_t t,
                    const at::Tensor& weight, const at::Tensor& bias, double eps,
                    at::Tensor& out, at::Tensor& mean, at::Tensor& var,
                    at::Tensor& invstd) {
  const Shape sh = shape_of(x);
  const std::vector<double> count = domain_counts(dom, sh, t);
  const T* px = x.data_ptr<T>();
  const T* pw = weight.defined() ? weight.data_ptr<T>() : nullptr;
  const T* pb = bias.defined() ? bias.data_ptr<T>() : nullptr;
  T* po = out.data_ptr<T>();
  T* pmean = mean.data_ptr<T>();
  T* pvar = var.data_ptr<T>();
  T* pinv = invstd.data_ptr<T>();
  at::parallel_for(0, sh.c, grain(sh), [&](int64_t begin, int64_t end) {
    std::vector<double> acc(t);
    for (int64_t c = begin; c < end; ++c) {
      channel_moments(px, dom, sh, t, count, eps, c, acc, pmean, pvar, pinv);
      channel_normalize(px, dom, sh, pmean, pinv, pw, pb, c, po);
    }
  });
}

template <typename T>
void moments_kernel(const at::Tensor& x, const int64_t* dom, int64_t t, at::Tensor& mean,
                    at::Tensor& var) {
  const Shape sh = shape_of(x);
  const std::vector<double> count = domain_counts(dom, sh, t);
  const T* px = x.data_ptr<T>();
  T* pmean = mean.data_ptr<T>();
  T* pvar = var.data_ptr<T>();
  at::parallel_for(0, sh.c, grain(sh), [&](int64_t begin, int64_t end) {
    std::vector<double> acc(t);
    for (int64_t c = begin; c < end; ++c)
      channel_moments<T>(px, dom, sh, t, count, 0.0, c, acc, pmean, pvar, nullptr);
  });
}

template <typename T>
void normalize_kernel(const at::Tensor& x, const int64_t* dom, const at::Tensor& mean,
                      const at::Tensor& invstd, const at::Tensor& weight,
                      const at::Tensor& bias, at::Tensor& out) {
  const Shape sh = shape_of(x);
  const T* px = x.data_ptr<T>();
  const T* pw = weight.defined() ? weight.data_ptr<T>() : nullptr;
  const T* pb = bias.defined() ? bias.data_ptr<T>() : nullptr;
  const T* pmean = mean.data_ptr<T>();
  const T* pinv = invstd.data_ptr<T>();
  T* po = out.data_ptr<T>();
  at::parallel_for(0, sh.c, grain(sh), [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c)
      channel_normalize(px, dom, sh, pmean, pinv, pw, pb, c, po);
  });
}

template <typename T>
void backward_kernel(const at::Tensor& dy, const at::Tensor& x, const int64_t* dom,
                     int64_t t, const at::Tensor& weight, const at::Tensor& mean,
                     const at::Tensor& invstd, at::Tensor& grad_x, at::Tensor& sums) {
  const Shape sh = shape_of(x);
  const std::vector<double> count = domain_counts(dom, sh, t);
  const T* pdy = dy.data_ptr<T>();
  const T* px = x.data_ptr<T>();
  const T* pw = weight.defined() ? weight.data_ptr<T>() : nullptr;
  const T* pmean = mean.data_ptr<T>();
  const T* pinv = invstd.data_ptr<T>();
  T* pgx = grad_x.numel() ? grad_x.data_ptr<T>() : nullptr;
  T* psums = sums.data_ptr<T>();
  at::parallel_for(0, sh.c, grain(sh), [&](int64_t begin, int64_t end) {
    std::vector<double> sum_dy(t), dot(t), a(t), b(t), d(t);
    for (int64_t c = begin; c < end; ++c) {
      std::fill(sum_dy.begin(), sum_dy.end(), 0.0);
      std::fill(dot.begin(), dot.end(), 0.0);
      for (int64_t n = 0; n < sh.n; ++n) {
        const int64_t at = (n * sh.c + c) * sh.s;
        row_dot_dev(pdy + at, px + at, sh.s, pmean[dom[n] * sh.c + c], &sum_dy[dom[n]],
                    &dot[dom[n]]);
      }
      for (int64_t k = 0; k < t; ++k) {
        const int64_t row = k * sh.c + c;
        const double inv = pinv[row];
        psums[k * 2 * sh.c + c] = T(sum_dy[k]);
        psums[k * 2 * sh.c + sh.c + c] = T(dot[k] * inv);
        if (count[k] > 0) {
          // dx = w * invstd * (dy - mean(dy) - x_hat * mean(dy * x_hat))
          a[k] = (pw ? double(pw[row]) : 1.0) * inv;
          b[k] = -a[k] * dot[k] * inv * inv / count[k];
          d[k] = -a[k] * sum_dy[k] / count[k];
        }
      }
      if (!pgx) continue;
      for (int64_t n = 0; n < sh.n; ++n) {
        const int64_t k = dom[n], at = (n * sh.c + c) * sh.s;
        row_affine2(pdy + at, px + at, sh.s, T(a[k]), T(b[k]), pmean[k * sh.c + c], T(d[k]),
                    pgx + at);
      }
    }
  });
}

}  // namespace

std::vector<at::Tensor> domain_bn_forward(const at::Tensor& x, const at::Tensor& domain,
                                          int64_t num_domains,
                                          const c10::optional<at::Tensor>& weight,
                                          const c10::optional<at::Tensor>& bias, double eps) {
  check_input(x, domain, num_domains, "domain_bn_forward");
  auto out = at::empty_like(x);
  // Separate tensors: torch custom ops must not return aliases.
  auto mean = x.new_empty({num_domains, x.size(1)});
  auto var = at::empty_like(mean), invstd = at::empty_like(mean);
  const auto w = bank(weight, x, num_domains), b = bank(bias, x, num_domains);
  const auto dom = domain.contiguous();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "domain_bn_forward", [&] {
    forward_kernel<scalar_t>(x, dom.data_ptr<int64_t>(), num_domains, w, b, eps, out, mean,
                             var, invstd);
  });
  return {out, mean, var, invstd};
}

std::vector<at::Tensor> domain_bn_backward(const at::Tensor& dy, const at::Tensor& x,
                                           const at::Tensor& domain,
                                           const c10::optional<at::Tensor>& weight,
                                           const at::Tensor& mean, const at::Tensor& invstd,
                                           bool need_input) {
  const int64_t t = mean.size(0);
  check_input(x, domain, t, "domain_bn_backward");
  TORCH_CHECK(dy.sizes() == x.sizes() && dy.is_contiguous() && dy.scalar_type() == x.scalar_type(),
              "domain_bn_backward: dy must be contiguous, of x's shape and dtype");
  const auto cmean = bank(mean, x, t), cinv = bank(invstd, x, t), w = bank(weight, x, t);
  // Without the input gradient: an empty tensor (custom ops return tensors).
  at::Tensor grad_x = need_input ? at::empty_like(x) : x.new_empty({0});
  auto sums = x.new_zeros({t, 2 * x.size(1)});
  const auto dom = domain.contiguous();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "domain_bn_backward", [&] {
    backward_kernel<scalar_t>(dy, x, dom.data_ptr<int64_t>(), t, w, cmean, cinv, grad_x, sums);
  });
  return {grad_x, sums};
}

std::vector<at::Tensor> domain_bn_moments(const at::Tensor& x, const at::Tensor& domain,
                                          int64_t num_domains) {
  check_input(x, domain, num_domains, "domain_bn_moments");
  auto mean = x.new_empty({num_domains, x.size(1)}), var = at::empty_like(mean);
  const auto dom = domain.contiguous();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "domain_bn_moments", [&] {
    moments_kernel<scalar_t>(x, dom.data_ptr<int64_t>(), num_domains, mean, var);
  });
  return {mean, var};
}

at::Tensor domain_bn_normalize(const at::Tensor& x, const at::Tensor& domain,
                               const at::Tensor& mean, const at::Tensor& invstd,
                               const c10::optional<at::Tensor>& weight,
                               const c10::optional<at::Tensor>& bias) {
  const int64_t t = mean.size(0);
  check_input(x, domain, t, "domain_bn_normalize");
  const auto cmean = bank(mean, x, t), cinv = bank(invstd, x, t);
  const auto w = bank(weight, x, t), b = bank(bias, x, t);
  auto out = at::empty_like(x);
  const auto dom = domain.contiguous();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "domain_bn_normalize", [&] {
    normalize_kernel<scalar_t>(x, dom.data_ptr<int64_t>(), cmean, cinv, w, b, out);
  });
  return out;
}

}  // namespace cn_seg
