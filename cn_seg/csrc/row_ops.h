// Loops over one contiguous row (the spatial positions of one sample and one
// channel) shared by the CPU kernels of cn_seg. Each reduction keeps kLanes
// independent partial sums so that the compiler vectorizes it at -O3 without
// -ffast-math; the rows' totals are then added in double precision.
#pragma once

#include <cstdint>

namespace cn_seg {

constexpr int64_t kLanes = 16;

// sum(p[j])
template <typename T>
inline double row_sum(const T* __restrict__ p, int64_t s) {
  T acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= s; j += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) acc[l] += p[j + l];
  double total = 0;
  for (; j < s; ++j) total += p[j];
  for (int64_t l = 0; l < kLanes; ++l) total += acc[l];
  return total;
}

// sum((p[j] - m)^2)
template <typename T>
inline double row_sq_dev(const T* __restrict__ p, int64_t s, T m) {
  T acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= s; j += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) {
      const T v = p[j + l] - m;
      acc[l] += v * v;
    }
  double total = 0;
  for (; j < s; ++j) total += double(p[j] - m) * double(p[j] - m);
  for (int64_t l = 0; l < kLanes; ++l) total += acc[l];
  return total;
}

// sum(dy[j]) and sum(dy[j] * (x[j] - m)), added to *sum_dy and *dot
template <typename T>
inline void row_dot_dev(const T* __restrict__ dy, const T* __restrict__ x,
                        int64_t s, T m, double* sum_dy, double* dot) {
  T acc_dy[kLanes] = {}, acc_dot[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= s; j += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) {
      acc_dy[l] += dy[j + l];
      acc_dot[l] += dy[j + l] * (x[j + l] - m);
    }
  double total_dy = 0, total_dot = 0;
  for (; j < s; ++j) {
    total_dy += dy[j];
    total_dot += double(dy[j]) * double(x[j] - m);
  }
  for (int64_t l = 0; l < kLanes; ++l) {
    total_dy += acc_dy[l];
    total_dot += acc_dot[l];
  }
  *sum_dy += total_dy;
  *dot += total_dot;
}

// out[j] = (u[j] - m) * a + c   (the forward normalization)
template <typename T>
inline void row_normalize(const T* __restrict__ u, int64_t s, T m, T a, T c,
                          T* __restrict__ out) {
  for (int64_t j = 0; j < s; ++j) out[j] = (u[j] - m) * a + c;
}

// out[j] = a * u[j] + b * (v[j] - m) + c   (the input gradient of batch norm)
template <typename T>
inline void row_affine2(const T* __restrict__ u, const T* __restrict__ v,
                        int64_t s, T a, T b, T m, T c, T* __restrict__ out) {
  for (int64_t j = 0; j < s; ++j) out[j] = a * u[j] + b * (v[j] - m) + c;
}

}  // namespace cn_seg
