// Python bindings of the CPU kernels (the extension module cn_seg._C).
#include "kernels.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("domain_affine_out", &cn_seg::domain_affine_out,
        "out = a[k] * dy + b[k] * x + d[k] per sample domain k and channel (CPU)");
  m.def("domain_bn_forward", &cn_seg::domain_bn_forward,
        "per-domain training-mode batch norm: (out, mean, var, invstd) (CPU)");
  m.def("domain_bn_backward", &cn_seg::domain_bn_backward,
        "its backward: (grad_input or None, per-domain gradient sums) (CPU)");
  m.def("domain_bn_moments", &cn_seg::domain_bn_moments,
        "per-domain batch mean and biased variance: (mean, var) (CPU)");
  m.def("domain_bn_normalize", &cn_seg::domain_bn_normalize,
        "normalization with given per-domain mean and invstd (CPU)");
}
