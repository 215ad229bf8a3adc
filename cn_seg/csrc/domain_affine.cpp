// Fused per-domain affine map used by the backward pass of synchronized
// per-domain batch norm (whose reduction needs an all_reduce in between):
//   out[n, c, s] = a[k(n), c] * dy[n, c, s] + b[k(n), c] * x[n, c, s] + d[k(n), c]
// where k(n) is the domain of sample n. One pass that reads dy and x and
// writes out, as ATen's own batch-norm backward does.
#include <ATen/Parallel.h>

#include "kernels.h"
#include "row_ops.h"

namespace cn_seg {

namespace {

template <typename scalar_t>
void affine_kernel(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& a,
                   const at::Tensor& b, const at::Tensor& d, const at::Tensor& domain,
                   at::Tensor& out) {
  const int64_t n = x.size(0), c = x.size(1), s = x.numel() / std::max<int64_t>(n * c, 1);
  const scalar_t* pdy = dy.data_ptr<scalar_t>();
  const scalar_t* px = x.data_ptr<scalar_t>();
  const scalar_t* pa = a.data_ptr<scalar_t>();
  const scalar_t* pb = b.data_ptr<scalar_t>();
  const scalar_t* pd = d.data_ptr<scalar_t>();
  const int64_t* pk = domain.data_ptr<int64_t>();
  scalar_t* po = out.data_ptr<scalar_t>();
  at::parallel_for(0, n * c, std::max<int64_t>(1, 32768 / std::max<int64_t>(s, 1)),
                   [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t row = pk[i / c] * c + i % c;
      row_affine2<scalar_t>(pdy + i * s, px + i * s, s, pa[row], pb[row], 0,
                            pd[row], po + i * s);
    }
  });
}

}  // namespace

void domain_affine_out(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& a,
                       const at::Tensor& b, const at::Tensor& d, const at::Tensor& domain,
                       at::Tensor& out) {
  TORCH_CHECK(x.device().is_cpu() && dy.device().is_cpu() && out.device().is_cpu(),
              "domain_affine_out runs on CPU tensors");
  TORCH_CHECK(x.is_contiguous() && dy.is_contiguous() && out.is_contiguous(),
              "domain_affine_out needs contiguous NC... tensors");
  TORCH_CHECK(x.sizes() == dy.sizes() && x.sizes() == out.sizes() && x.dim() >= 2,
              "dy, x and out must have one shape (N, C, ...)");
  TORCH_CHECK(domain.scalar_type() == at::kLong && domain.numel() == x.size(0),
              "domain must be a LongTensor with one entry per sample");
  const auto ca = a.contiguous().to(x.scalar_type());
  const auto cb = b.contiguous().to(x.scalar_type());
  const auto cd = d.contiguous().to(x.scalar_type());
  TORCH_CHECK(ca.size(-1) == x.size(1) && cb.sizes() == ca.sizes() && cd.sizes() == ca.sizes(),
              "a, b and d must have shape (num_domains, C)");
  const auto cdomain = domain.contiguous();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "domain_affine_out", [&] {
    affine_kernel<scalar_t>(dy, x, ca, cb, cd, cdomain, out);
  });
}

}  // namespace cn_seg
