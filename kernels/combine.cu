// combine.cu: the per-pixel combine of the median step (MultiDrizzle manual
// section 1.4, step 5: combine_type, combine_nsigma, combine_nlow/nhigh,
// combine_lthresh/hthresh, combine_grow).
//
// CUDA twin of fallback/combine.py (Numba); its module docstring states the
// rules (which values are good, each combine type, numcombine's nlow/nhigh
// for average/median/sum, minmax's scaled rejection counts, minmed and its
// growth, the good-value counts).  Same entry names, argument
// order, codes, flag bits, operation order and float32/float64 casts, so that
// the two agree bit for bit on the host and to float32 rounding on a GPU
// (only sqrt is called, and it is correctly rounded on both).
//
// Combine codes (fallback.combine.COMBINE_CODES): 0 average, 1 median, 2 sum,
// 3 minmed, 4 minmax.  minmed flag bits: 1 MIN passes the nsigma1 test,
// 2 MIN passes the nsigma2 test, 4 the pixel has a good value.
//
// How the signatures differ from Numba's:
// - explicit shapes: the stacks sci, wht and scratch are flat (n, ny, nx)
//   pointers with n, nx, ny after wht_min; out, med, mn, flags are (ny, nx);
// - Numba's empty placeholders arrive as NULL (scratch for average and sum
//   without nlow/nhigh; exptime, sky, rdnoise, med, mn, flags for every type
//   but minmed; count when the caller wants no counts);
// - lthresh, hthresh and fill are already float32 (Numba rounds on entry);
// - one thread per pixel (grid-stride) instead of Numba's parallel rows.
// Each thread sorts its pixel's good values in its own column of scratch,
// scratch[k * ny * nx + p]: neighbouring threads touch neighbouring
// addresses, so the column walks coalesce, and there is no limit on n.
//
// Compiled by NVRTC (gpudriz.backend.cuda.loader, with --fmad=false), by
// nvcc --ptx and by g++ through tests/helpers/cuda_shim.h, hence: no #include, no
// NAN/INFINITY macros, only the C math functions all three provide, no shared
// memory.  IDX_T (int or long long) comes from the loader's preamble and
// types every flat index.

// Combine codes shared with fallback/combine.py.
constexpr int CB_AVERAGE = 0;
constexpr int CB_MEDIAN = 1;
constexpr int CB_SUM = 2;
constexpr int CB_MINMED = 3;
constexpr int CB_MINMAX = 4;

// Columns of at most this many values are insertion-sorted, longer ones
// heap-sorted (the twin's INSERTION_MAX).
constexpr int CB_INSERTION_MAX = 16;

// minmed flag bits (MIN_N1, MIN_N2, HAS_DATA).
constexpr unsigned char CB_MIN_N1 = 1;
constexpr unsigned char CB_MIN_N2 = 2;
constexpr unsigned char CB_HAS_DATA = 4;

// --------------------------------------------------------------------------
// Helpers
// --------------------------------------------------------------------------

// True if a value s of weight w takes part in the combine: both finite,
// w > wmin (false for a NaN wmin), inside the thresholds (float32 compares).
__device__ bool is_good(float s, float w, float wmin, int use_lthresh, float lthresh,
                        int use_hthresh, float hthresh) {
    if (!(isfinite(s) && isfinite(w))) return false;
    if (!(w > wmin)) return false;
    if (use_lthresh != 0 && s < lthresh) return false;
    if (use_hthresh != 0 && s > hthresh) return false;
    return true;
}

// Restore the max-heap property below root in buf[base + k * stride], k < end.
__device__ void sift_down(float* buf, IDX_T base, IDX_T stride, int root, int end) {
    while (true) {
        int child = 2 * root + 1;
        if (child >= end) return;
        if (child + 1 < end && buf[base + (IDX_T)(child + 1) * stride] >
                                   buf[base + (IDX_T)child * stride])
            child += 1;
        IDX_T r = base + (IDX_T)root * stride;
        IDX_T c = base + (IDX_T)child * stride;
        if (buf[r] < buf[c]) {
            float t = buf[r];
            buf[r] = buf[c];
            buf[c] = t;
            root = child;
        } else {
            return;
        }
    }
}

// Sort buf[base + k * stride], k = 0 .. m-1, ascending, in place: insertion
// sort for short columns, heapsort (O(m log m), no recursion) above.
__device__ void sort_column(float* buf, IDX_T base, IDX_T stride, int m) {
    if (m <= CB_INSERTION_MAX) {
        for (int a = 1; a < m; ++a) {
            float v = buf[base + (IDX_T)a * stride];
            int b = a - 1;
            while (b >= 0 && buf[base + (IDX_T)b * stride] > v) {
                buf[base + (IDX_T)(b + 1) * stride] = buf[base + (IDX_T)b * stride];
                b -= 1;
            }
            buf[base + (IDX_T)(b + 1) * stride] = v;
        }
        return;
    }
    for (int start = m / 2 - 1; start >= 0; --start) sift_down(buf, base, stride, start, m);
    for (int end = m - 1; end > 0; --end) {
        IDX_T e = base + (IDX_T)end * stride;
        float t = buf[base];
        buf[base] = buf[e];
        buf[e] = t;
        sift_down(buf, base, stride, 0, end);
    }
}

// Median (double) of the sorted buf[base + k * stride], k < m; the mean of
// the middle two for an even m.
__device__ double sorted_median(const float* buf, IDX_T base, IDX_T stride, int m) {
    int h = m / 2;
    if (m % 2 == 1) return (double)buf[base + (IDX_T)h * stride];
    return 0.5 * ((double)buf[base + (IDX_T)(h - 1) * stride] +
                  (double)buf[base + (IDX_T)h * stride]);
}

// How many of m >= 1 sorted good values average/median/sum drop (numcombine):
// nlow and nhigh as they are, lowered together one at a time (each while
// positive) until nl + nh < m, so that at least one value is kept.
__device__ void kept_counts(int m, int nlow, int nhigh, int* nl_out, int* nh_out) {
    int nl = nlow;
    int nh = nhigh;
    while (nl + nh >= m) {
        if (nh > 0) nh -= 1;
        if (nl > 0) nl -= 1;
    }
    *nl_out = nl;
    *nh_out = nh;
}

// --------------------------------------------------------------------------
// Kernels
// --------------------------------------------------------------------------

// Combine the stack sci (n x ny x nx) pixel by pixel into out (ny x nx).
// scratch (n x ny x nx) holds each pixel's good values for sorting (NULL for
// average and sum).  For minmed, exptime/sky/rdnoise (n, double) give the
// noise model, med/mn/flags (ny x nx) receive MED, MIN and the test bits for
// combine_grow, and out the nsigma1 choice; pixels without good values get
// fill (and med = mn = fill, flags = 0).  count (ny x nx, or NULL) receives
// each pixel's number of good values.
extern "C" __global__ void combine_pixels(
    const float* sci, const float* wht, const float* wht_min, int n, int nx, int ny, int code,
    int nlow, int nhigh, int nimages, int use_lthresh, float lthresh, int use_hthresh, float hthresh,
    const double* exptime, const double* sky, const double* rdnoise, double nsigma1,
    double nsigma2, float fill, float* scratch, float* out, float* med, float* mn,
    unsigned char* flags, int* count) {
    const IDX_T npix = (IDX_T)nx * ny;
    const bool drops =
        (nlow > 0 || nhigh > 0) && code != CB_MINMED && code != CB_MINMAX;
    const bool store = (code != CB_AVERAGE && code != CB_SUM) || drops;
    for (IDX_T p = (IDX_T)blockIdx.x * blockDim.x + threadIdx.x; p < npix;
         p += (IDX_T)blockDim.x * gridDim.x) {
        int m = 0;
        double total = 0.0;
        double wsum = 0.0;
        double bsum = 0.0;
        double r2 = 0.0;
        for (int k = 0; k < n; ++k) {
            float s = sci[(IDX_T)k * npix + p];
            float w = wht[(IDX_T)k * npix + p];
            if (!is_good(s, w, wht_min[k], use_lthresh, lthresh, use_hthresh, hthresh)) continue;
            total += (double)s;
            if (store) scratch[(IDX_T)m * npix + p] = s;
            if (code == CB_MINMED) {
                wsum += (double)w;
                bsum += (double)w * (sky[k] / exptime[k]);
                r2 += rdnoise[k] * rdnoise[k];
            }
            m += 1;
        }
        if (count != NULL) count[p] = m;
        if (m == 0) {
            out[p] = fill;
            if (code == CB_MINMED) {
                med[p] = fill;
                mn[p] = fill;
                flags[p] = 0;
            }
            continue;
        }
        if ((code == CB_AVERAGE || code == CB_SUM) && !drops) {
            out[p] = code == CB_AVERAGE ? (float)(total / m) : (float)total;
        } else if (code == CB_AVERAGE || code == CB_SUM) {
            sort_column(scratch, p, npix, m);
            int nl, nh;
            kept_counts(m, nlow, nhigh, &nl, &nh);
            double kept = 0.0;
            for (int k = nl; k < m - nh; ++k) kept += (double)scratch[(IDX_T)k * npix + p];
            out[p] = code == CB_AVERAGE ? (float)(kept / (m - nl - nh)) : (float)kept;
        } else if (code == CB_MEDIAN) {
            sort_column(scratch, p, npix, m);
            int nl, nh;
            kept_counts(m, nlow, nhigh, &nl, &nh);
            out[p] = (float)sorted_median(scratch, p + (IDX_T)nl * npix, npix, m - nl - nh);
        } else if (code == CB_MINMAX) {
            // Rejection counts scale with the good values (IRAF imcombine)
            // among nimages (>= n: images left out of the stack count);
            // 64-bit products so that no count can overflow them.
            int nl = (int)(((long long)nlow * m) / nimages);
            int nh = (int)(((long long)nhigh * m) / nimages);
            if (m - nl - nh < 1) {
                out[p] = fill;
                continue;
            }
            sort_column(scratch, p, npix, m);
            double kept = 0.0;
            for (int k = nl; k < m - nh; ++k) kept += (double)scratch[(IDX_T)k * npix + p];
            out[p] = (float)(kept / (m - nl - nh));
        } else {  // minmed
            sort_column(scratch, p, npix, m);
            float lo = scratch[p];
            float mid;
            if (m == 1) {
                mid = lo;
            } else if (m == 2) {
                mid = (float)(0.5 * ((double)lo + (double)scratch[npix + p]));
            } else {
                mid = (float)sorted_median(scratch, p, npix, m - 1);
            }
            double med_e = (double)mid * wsum;
            double min_e = (double)lo * wsum;
            double var = med_e + bsum + r2;
            if (!(var > 0.0)) var = 0.0;  // negative (or NaN from overflowing sums): no noise
            double sigma = sqrt(var);
            unsigned char f = CB_HAS_DATA;
            if (min_e < med_e - nsigma1 * sigma) f |= CB_MIN_N1;
            if (min_e < med_e - nsigma2 * sigma) f |= CB_MIN_N2;
            med[p] = mid;
            mn[p] = lo;
            flags[p] = f;
            out[p] = (f & CB_MIN_N1) != 0 ? lo : mid;
        }
    }
}

// minmed growth: a pixel whose (2 grow + 1)^2 box (clipped to the section)
// holds a MIN_N1 pixel takes mn where it passes the nsigma2 test, med
// elsewhere; pixels without good values get fill.  flags is only read.
extern "C" __global__ void combine_grow(const unsigned char* flags, const float* med,
                                        const float* mn, int nx, int ny, int grow, float fill,
                                        float* out) {
    const IDX_T npix = (IDX_T)nx * ny;
    for (IDX_T p = (IDX_T)blockIdx.x * blockDim.x + threadIdx.x; p < npix;
         p += (IDX_T)blockDim.x * gridDim.x) {
        unsigned char f = flags[p];
        if ((f & CB_HAS_DATA) == 0) {
            out[p] = fill;
            continue;
        }
        int j = (int)(p / nx);
        int i = (int)(p - (IDX_T)j * nx);
        int j0 = j - grow < 0 ? 0 : j - grow;
        int j1 = j + grow > ny - 1 ? ny - 1 : j + grow;
        int i0 = i - grow < 0 ? 0 : i - grow;
        int i1 = i + grow > nx - 1 ? nx - 1 : i + grow;
        bool seeded = false;
        for (int jj = j0; jj <= j1 && !seeded; ++jj) {
            const unsigned char* row = flags + (IDX_T)jj * nx;
            for (int ii = i0; ii <= i1; ++ii) {
                if ((row[ii] & CB_MIN_N1) != 0) {
                    seeded = true;
                    break;
                }
            }
        }
        out[p] = seeded && (f & CB_MIN_N2) != 0 ? mn[p] : med[p];
    }
}
