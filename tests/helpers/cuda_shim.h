// Host shim: compiles the CUDA sources in kernels/ with g++ so that CI, which
// has no GPU, runs the exact kernel source (see tests/helpers/cuda_host.py).
//
// Force-included (g++ -include cuda_shim.h -x c++ kernels/X.cu).  It maps the
// CUDA qualifiers to nothing, the built-in thread/block indices to globals the
// launcher sets before calling a kernel once per (block, thread), and the
// atomics to plain read-modify-writes (the launcher runs one thread at a
// time, so they are atomic).  Only 1-D launches with grid-stride loops are
// supported; shared memory and __syncthreads() are deliberately absent, so a
// kernel that needs block cooperation fails to compile here and must get
// GPU-only tests instead.
//
// Floating point: the loader builds with --fmad=false, and g++ is run with
// -ffp-contract=off, so additions and multiplications round identically on
// both; only the transcendental functions (exp, sin, ...) may differ by an ulp.

#ifndef GPUDRIZ_CUDA_SHIM_H
#define GPUDRIZ_CUDA_SHIM_H

#include <cmath>

// CUDA has float and double overloads of the math functions in the global
// namespace; bring <cmath>'s overloads there too, so that a float argument
// is not silently promoted to double on the host only.
using std::ceil;
using std::cos;
using std::exp;
using std::fabs;
using std::floor;
using std::fmax;
using std::fmin;
using std::isfinite;
using std::isnan;
using std::log;
using std::nan;
using std::pow;
using std::sin;
using std::sqrt;
using std::trunc;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

struct shim_dim3 {
    unsigned int x, y, z;
};

// One definition per kernel library (each .cu is its own shared object).
shim_dim3 threadIdx = {0, 1, 1};
shim_dim3 blockIdx = {0, 1, 1};
shim_dim3 blockDim = {1, 1, 1};
shim_dim3 gridDim = {1, 1, 1};

extern "C" void shim_set_launch(unsigned int grid, unsigned int block, unsigned int b,
                                unsigned int t) {
    gridDim.x = grid;
    blockDim.x = block;
    blockIdx.x = b;
    threadIdx.x = t;
}

template <typename T> inline T shim_atomic_add(T *p, T v) {
    T old = *p;
    *p = old + v;
    return old;
}
inline float atomicAdd(float *p, float v) { return shim_atomic_add(p, v); }
inline double atomicAdd(double *p, double v) { return shim_atomic_add(p, v); }
inline int atomicAdd(int *p, int v) { return shim_atomic_add(p, v); }
inline unsigned int atomicAdd(unsigned int *p, unsigned int v) { return shim_atomic_add(p, v); }
inline unsigned long long atomicAdd(unsigned long long *p, unsigned long long v) {
    return shim_atomic_add(p, v);
}

inline int atomicOr(int *p, int v) {
    int old = *p;
    *p = old | v;
    return old;
}
inline unsigned int atomicOr(unsigned int *p, unsigned int v) {
    unsigned int old = *p;
    *p = old | v;
    return old;
}

inline int atomicMax(int *p, int v) {
    int old = *p;
    *p = old > v ? old : v;
    return old;
}
inline int atomicMin(int *p, int v) {
    int old = *p;
    *p = old < v ? old : v;
    return old;
}

#endif
