// stats.cu: the pixel passes of the clipped statistics of the static mask and
// sky steps (MultiDrizzle manual section 1.4, steps 2 and 3).
//
// CUDA twin of fallback/stats.py (Numba); its module docstring states what
// the two passes compute and how gpudriz.pipeline.steps.stats uses them.
// Same sample rule (finite, allowed by the mask, inside [lower, upper], all
// compared in double on (double)v), same bin rule (floor((v - lo) / width),
// clamped to [0, nbins - 1]) and the same sums of v - ref.
//
// How the signatures differ from Numba's:
// - one entry per data type (_f32, _f64); explicit length n; the mask arrives
//   as NULL when unused;
// - sample_moments writes one partial per thread (blockDim.x * gridDim.x
//   rows of 5 doubles) rather than one per chunk: no atomics and no shared
//   memory, and the caller sums the rows;
// - window_histogram accumulates atomically into one histogram (counts as
//   unsigned long long, sums as double) instead of one per chunk; the caller
//   zeroes it first.
// Counts agree exactly with the twin; sums to double rounding (another order).
//
// Compiled by NVRTC (gpudriz.backend.cuda.loader, with --fmad=false), by
// nvcc --ptx and by g++ through tests/helpers/cuda_shim.h, hence: no
// #include, no shared memory.  IDX_T (int or long long) comes from the
// loader's preamble and types every flat index.

__device__ bool in_sample(double v, IDX_T i, const unsigned char* mask, double lower,
                          double upper) {
    if (!isfinite(v)) return false;
    if (mask != nullptr && mask[i] == 0) return false;
    return v >= lower && v <= upper;
}

// One thread's share of the sample: partial sums of v - ref, count, min, max.
template <typename T>
__device__ void moments_of(const T* data, const unsigned char* mask, IDX_T n, double lower,
                           double upper, double ref, double* partials) {
    const IDX_T tid = (IDX_T)blockIdx.x * blockDim.x + threadIdx.x;
    double cnt = 0.0, s1 = 0.0, s2 = 0.0;
    // The largest double for an empty partial (no INFINITY macro in NVRTC; the twin uses the same).
    double vmin = 1.7976931348623157e308, vmax = -1.7976931348623157e308;
    for (IDX_T i = tid; i < n; i += (IDX_T)blockDim.x * gridDim.x) {
        double v = (double)data[i];
        if (!in_sample(v, i, mask, lower, upper)) continue;
        double d = v - ref;
        cnt += 1.0;
        s1 += d;
        s2 += d * d;
        if (v < vmin) vmin = v;
        if (v > vmax) vmax = v;
    }
    double* row = partials + tid * 5;
    row[0] = cnt;
    row[1] = s1;
    row[2] = s2;
    row[3] = vmin;
    row[4] = vmax;
}

// The sample's values into bins of width from lo (clamped to the first and last bins).
template <typename T>
__device__ void histogram_of(const T* data, const unsigned char* mask, IDX_T n, double lower,
                             double upper, double lo, double width, double ref, int nbins,
                             unsigned long long* counts, double* sums, double* sumsq) {
    for (IDX_T i = (IDX_T)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (IDX_T)blockDim.x * gridDim.x) {
        double v = (double)data[i];
        if (!in_sample(v, i, mask, lower, upper)) continue;
        int b = (int)floor((v - lo) / width);
        if (b < 0) b = 0;
        if (b > nbins - 1) b = nbins - 1;
        double d = v - ref;
        atomicAdd(counts + b, 1ULL);
        atomicAdd(sums + b, d);
        atomicAdd(sumsq + b, d * d);
    }
}

extern "C" __global__ void sample_moments_f32(const float* data, const unsigned char* mask, IDX_T n,
                                              double lower, double upper, double ref,
                                              double* partials) {
    moments_of(data, mask, n, lower, upper, ref, partials);
}

extern "C" __global__ void sample_moments_f64(const double* data, const unsigned char* mask,
                                              IDX_T n, double lower, double upper, double ref,
                                              double* partials) {
    moments_of(data, mask, n, lower, upper, ref, partials);
}

extern "C" __global__ void window_histogram_f32(const float* data, const unsigned char* mask,
                                                IDX_T n, double lower, double upper, double lo,
                                                double width, double ref, int nbins,
                                                unsigned long long* counts, double* sums,
                                                double* sumsq) {
    histogram_of(data, mask, n, lower, upper, lo, width, ref, nbins, counts, sums, sumsq);
}

extern "C" __global__ void window_histogram_f64(const double* data, const unsigned char* mask,
                                                IDX_T n, double lower, double upper, double lo,
                                                double width, double ref, int nbins,
                                                unsigned long long* counts, double* sums,
                                                double* sumsq) {
    histogram_of(data, mask, n, lower, upper, lo, width, ref, nbins, counts, sums, sumsq);
}
