// crreject.cu: cosmic-ray detection against the blotted median (MultiDrizzle
// manual section 1.4, step 7: driz_cr_snr, driz_cr_scale; driz_cr_grow).
//
// CUDA twin of fallback/crreject.py (Numba); its module docstring states the
// test (derivative of the blot over the 4 neighbours, noise of D - B
// sqrt((g|B| + rn^2)/g^2 + median_var) with median_var = var(B) - 2 cov(D, B),
// two passes, the 3 x 3 test, symmetric growth) and
// which pixels are not tested (non-finite D or B, good == 0).  Same entry
// names, argument order, flag bits, operation order and float32/float64
// casts, so that the masks agree exactly with the twin's.
//
// How the signatures differ from Numba's:
// - explicit shapes: every image is a flat row-major (ny, nx) pointer, with
//   nx, ny after the images;
// - Numba's empty `good` arrives as NULL (every pixel tested / allowed), and
//   its empty `median_var` as NULL (the median's term left out);
// - one thread per pixel (grid-stride) instead of Numba's parallel rows;
//   pixel_flags takes the flat index's (j, i) like its twin.
//
// Compiled by NVRTC (gpudriz.backend.cuda.loader, with --fmad=false), by
// nvcc --ptx and by g++ through tests/helpers/cuda_shim.h, hence: no #include, no
// NAN/INFINITY macros, only the C math functions all three provide, no shared
// memory.  IDX_T (int or long long) comes from the loader's preamble and
// types every flat index.

// Bits of the per-pixel test flags (the twin's BAD1, BAD2).
constexpr unsigned char CR_BAD1 = 1;
constexpr unsigned char CR_BAD2 = 2;

// BAD1 / BAD2 bits of pixel (j, i); 0 where D or B is not finite.  Only
// finite neighbours that exist enter the derivative.
__device__ unsigned char pixel_flags(const float* data, const float* blot, const float* rdnoise,
                                     const float* median_var, int nx, int ny, int j, int i,
                                     double gain, double snr1, double snr2, double scale1,
                                     double scale2) {
    const IDX_T p = (IDX_T)j * nx + i;
    float d = data[p];
    float b = blot[p];
    if (!(isfinite(d) && isfinite(b))) return 0;
    double bd = (double)b;
    double deriv = 0.0;
    double v;
    // Neighbours in the order left, right, below, above; max is order-free.
    if (i > 0 && isfinite(blot[p - 1])) {
        v = fabs(bd - (double)blot[p - 1]);
        if (v > deriv) deriv = v;
    }
    if (i < nx - 1 && isfinite(blot[p + 1])) {
        v = fabs(bd - (double)blot[p + 1]);
        if (v > deriv) deriv = v;
    }
    if (j > 0 && isfinite(blot[p - nx])) {
        v = fabs(bd - (double)blot[p - nx]);
        if (v > deriv) deriv = v;
    }
    if (j < ny - 1 && isfinite(blot[p + nx])) {
        v = fabs(bd - (double)blot[p + nx]);
        if (v > deriv) deriv = v;
    }
    double r = (double)rdnoise[p];
    double noise;
    if (median_var == nullptr) {
        noise = sqrt(gain * fabs(bd) + r * r) / gain;
    } else {
        noise = sqrt((gain * fabs(bd) + r * r) / (gain * gain) + (double)median_var[p]);
    }
    double diff = fabs((double)d - bd);
    unsigned char f = 0;
    if (diff > scale1 * deriv + snr1 * noise) f |= CR_BAD1;
    if (diff > scale2 * deriv + snr2 * noise) f |= CR_BAD2;
    return f;
}

// Both passes' tests per pixel into flags (ny x nx, bits BAD1 and BAD2);
// pixels where good (may be NULL: all) is 0 are not tested and get 0.
// median_var (may be NULL) is what the blotted median adds to the variance
// of D - B, var(B) - 2 cov(D, B), in data units squared (may be negative; a
// negative total gives a NaN noise and the pixel is not flagged).
extern "C" __global__ void crr_flags(const float* data, const float* blot, const float* rdnoise,
                                     const float* median_var, const unsigned char* good, int nx,
                                     int ny, double gain,
                                     double snr1, double snr2, double scale1, double scale2,
                                     unsigned char* flags) {
    const IDX_T npix = (IDX_T)nx * ny;
    for (IDX_T p = (IDX_T)blockIdx.x * blockDim.x + threadIdx.x; p < npix;
         p += (IDX_T)blockDim.x * gridDim.x) {
        if (good != nullptr && good[p] == 0) {
            flags[p] = 0;
            continue;
        }
        int j = (int)(p / nx);
        int i = (int)(p - (IDX_T)j * nx);
        flags[p] = pixel_flags(data, blot, rdnoise, median_var, nx, ny, j, i, gain, snr1, snr2,
                               scale1, scale2);
    }
}

// cr (ny x nx): 1 where BAD2 and some pixel of the 3 x 3 box (clipped to the
// image) is BAD1, else 0.
extern "C" __global__ void crr_combine(const unsigned char* flags, int nx, int ny,
                                       unsigned char* cr) {
    const IDX_T npix = (IDX_T)nx * ny;
    for (IDX_T p = (IDX_T)blockIdx.x * blockDim.x + threadIdx.x; p < npix;
         p += (IDX_T)blockDim.x * gridDim.x) {
        unsigned char hit = 0;
        if ((flags[p] & CR_BAD2) != 0) {
            int j = (int)(p / nx);
            int i = (int)(p - (IDX_T)j * nx);
            int j0 = j > 0 ? j - 1 : 0;
            int j1 = j < ny - 1 ? j + 1 : ny - 1;
            int i0 = i > 0 ? i - 1 : 0;
            int i1 = i < nx - 1 ? i + 1 : nx - 1;
            for (int jj = j0; jj <= j1; ++jj) {
                const unsigned char* row = flags + (IDX_T)jj * nx;
                for (int ii = i0; ii <= i1; ++ii) {
                    if ((row[ii] & CR_BAD1) != 0) hit = 1;
                }
            }
        }
        cr[p] = hit;
    }
}

// out_mask (ny x nx): 1 where the (2 grow + 1)^2 box (clipped to the image)
// holds a 1 of cr, never where good (may be NULL: all allowed) is 0.
extern "C" __global__ void crr_grow(const unsigned char* cr, const unsigned char* good, int nx,
                                    int ny, int grow, unsigned char* out_mask) {
    const IDX_T npix = (IDX_T)nx * ny;
    for (IDX_T p = (IDX_T)blockIdx.x * blockDim.x + threadIdx.x; p < npix;
         p += (IDX_T)blockDim.x * gridDim.x) {
        unsigned char hit = 0;
        if (good == nullptr || good[p] != 0) {
            int j = (int)(p / nx);
            int i = (int)(p - (IDX_T)j * nx);
            int j0 = j - grow < 0 ? 0 : j - grow;
            int j1 = j + grow > ny - 1 ? ny - 1 : j + grow;
            int i0 = i - grow < 0 ? 0 : i - grow;
            int i1 = i + grow > nx - 1 ? nx - 1 : i + grow;
            for (int jj = j0; jj <= j1 && hit == 0; ++jj) {
                const unsigned char* row = cr + (IDX_T)jj * nx;
                for (int ii = i0; ii <= i1; ++ii) {
                    if (row[ii] != 0) {
                        hit = 1;
                        break;
                    }
                }
            }
        }
        out_mask[p] = hit;
    }
}
