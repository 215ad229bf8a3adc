// The CPU kernels of cn_seg._C (bound to Python in bindings.cpp).
#pragma once

#include <torch/extension.h>

#include <vector>

namespace cn_seg {

// out = a[k] * dy + b[k] * x + d[k] per sample domain k and channel.
void domain_affine_out(const at::Tensor& dy, const at::Tensor& x,
                       const at::Tensor& a, const at::Tensor& b,
                       const at::Tensor& d, const at::Tensor& domain,
                       at::Tensor& out);

// Training-mode batch norm of each domain's samples with that domain's
// statistics and affine parameters: {out, mean, var, invstd}.
std::vector<at::Tensor> domain_bn_forward(
    const at::Tensor& x, const at::Tensor& domain, int64_t num_domains,
    const c10::optional<at::Tensor>& weight,
    const c10::optional<at::Tensor>& bias, double eps);

// Its backward: {grad_input (undefined unless need_input), sums}, sums of
// shape (num_domains, 2C) holding sum(dy) then sum(dy * x_hat) per domain.
std::vector<at::Tensor> domain_bn_backward(
    const at::Tensor& dy, const at::Tensor& x, const at::Tensor& domain,
    const c10::optional<at::Tensor>& weight, const at::Tensor& mean,
    const at::Tensor& invstd, bool need_input);

// The per-domain mean and biased variance alone: {mean, var}, (num_domains, C).
std::vector<at::Tensor> domain_bn_moments(const at::Tensor& x,
                                          const at::Tensor& domain,
                                          int64_t num_domains);

// Normalization with given per-domain statistics (e.g. synchronized ones).
at::Tensor domain_bn_normalize(const at::Tensor& x, const at::Tensor& domain,
                               const at::Tensor& mean, const at::Tensor& invstd,
                               const c10::optional<at::Tensor>& weight,
                               const c10::optional<at::Tensor>& bias);

}  // namespace cn_seg
