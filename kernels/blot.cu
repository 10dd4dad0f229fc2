// blot.cu: interpolate an image at the positions given by a pixmap.
//
// CUDA twin of fallback/blot.py (Numba); see its module docstring for the
// arithmetic and where it departs from cdrizzle.  Same entry names, argument
// order, constants, operation order and float32/float64 roundings, so that the
// two backends agree to float32 rounding (the transcendental functions of the
// sinc may differ by an ulp in float64) and exactly on fill/NaN pixels.
//
// Interpolant codes (fallback.blot.INTERP_CODES): 0 nearest, 1 linear,
// 2 poly3, 3 poly5, 4 sinc, 5 lanczos3, 6 lanczos5.  As in Numba's
// blot_pixel, any other code is Lanczos of order 5.
//
// Signatures differ from Numba's only where C needs explicit shapes: an
// image is a flat row-major pointer plus (nx, ny), the Lanczos table a
// pointer plus nlut, and the per-pixel functions take the position (x, y) as
// two doubles.  Numba's
//     blot_kernel(data, pixmap, out, code, fillval, iscale, sinscl, lut)
// is here
//     blot_kernel(data, nx, ny, pixmap, out, out_nx, out_ny,
//                 code, fill, iscale, sinscl, lut, nlut)
// with `fill` already float32 (Numba rounds `fillval` on entry).  Numba's
// row/tile drivers (blot_row and the TILE loop of blot_kernel) become one
// grid-stride loop over output pixels.  Private helpers lose their leading
// underscore (_mirror_index -> mirror_index, ...); _sinpi is sin_pi because
// the CUDA math API already has a sinpi.
//
// Compiled by NVRTC (gpudriz.backend.cuda.loader, with --fmad=false), by
// nvcc --ptx and by g++ through tests/helpers/cuda_shim.h, hence: no #include, no
// NAN/INFINITY macros, only the C math functions both sides provide, no
// min/max (the host has no unqualified ones).  IDX_T (int or long long) comes
// from the loader's preamble and types every flat index.

// Interpolant codes shared with fallback/blot.py.
constexpr int NEAREST = 0;
constexpr int LINEAR = 1;
constexpr int POLY3 = 2;
constexpr int POLY5 = 3;
constexpr int SINC = 4;
constexpr int LANCZOS3 = 5;

// Spacing of the Lanczos look-up table, as in cdrizzle (lut_delta).
constexpr double LUT_DELTA = 0.003;

// Half-width of the sinc window in units of sinscl input pixels.
constexpr int SINC_NZEROS = 3;

// float32 constants (Numba's _F1 ...): a double literal would promote the
// polynomial arithmetic to double and break parity with the float32 formulas.
constexpr float F1 = 1.0f;
constexpr float F2 = 2.0f;
constexpr float F4 = 4.0f;
constexpr float F6 = 6.0f;
constexpr float SIXTH = 1.0f / 6.0f;
constexpr float ONE_120TH = 1.0f / 120.0f;

// math.pi (the double nearest pi); <cmath>'s M_PI is not available here.
constexpr double PI = 3.141592653589793;

// --------------------------------------------------------------------------
// Helpers
// --------------------------------------------------------------------------

// Index of the pixel mirroring i (outside 0..n-1) through the edge, clamped
// to the image so that images smaller than the window still work.
__device__ int mirror_index(int i, int n) {
    int m = i < 0 ? -i : 2 * (n - 1) - i;
    if (m < 0) m = 0;
    if (m > n - 1) m = n - 1;
    return m;
}

// data[j, i] for a row j inside the image, reflected in x.
__device__ float row_value(const float* data, int nx, int i, int j) {
    const float* row = data + (IDX_T)j * nx;
    if (i < 0) return F2 * row[0] - row[mirror_index(i, nx)];
    if (i >= nx) return F2 * row[nx - 1] - row[mirror_index(i, nx)];
    return row[i];
}

// data[j, i] extended beyond the image by reflection through the edges
// (f(-k) = 2 f(0) - f(k)); reflection is linear, so rows of x-reflected
// values give the same result as any other order.
__device__ float reflected_pixel(const float* data, int nx, int ny, int i, int j) {
    if (j < 0) return F2 * row_value(data, nx, i, 0) - row_value(data, nx, i, mirror_index(j, ny));
    if (j >= ny)
        return F2 * row_value(data, nx, i, ny - 1) - row_value(data, nx, i, mirror_index(j, ny));
    return row_value(data, nx, i, j);
}

// Integer part (in *ix) and float32 fraction of a non-negative position.  The
// split is done in double so that the fraction keeps full precision far from
// the origin; only the fraction goes to float32.
__device__ float split(double x, int* ix) {
    double fx = floor(x);
    *ix = (int)fx;
    return (float)(x - fx);
}

// data[j, i], reflected unless the caller knows its whole window is inside
// (the value is the same; the shortcut only skips the edge tests).
__device__ float pix(const float* data, int nx, int ny, int i, int j, bool interior) {
    if (interior) return data[(IDX_T)j * nx + i];
    return reflected_pixel(data, nx, ny, i, j);
}

// True if pixels ix-lo .. ix+hi x iy-lo .. iy+hi are all in the image.
__device__ bool window_inside(int nx, int ny, int ix, int iy, int lo, int hi) {
    return ix >= lo && ix + hi < nx && iy >= lo && iy + hi < ny;
}

// sin(pi u), exactly 0 at integers (so that sinc taps vanish there).
__device__ double sin_pi(double u) {
    double n = floor(u + 0.5);
    double s = sin(PI * (u - n));
    // n is small (|u| < 3 for every caller), so the cast is exact.
    if ((long long)n % 2 != 0) s = -s;
    return s;
}

// Normalised sinc, sin(pi u) / (pi u).
__device__ double sinc(double u) {
    if (u == 0.0) return 1.0;
    return sin_pi(u) / (PI * u);
}

// Tapered sinc weight of a tap at distance dx (0 outside |dx| < h).
__device__ double sinc_weight(double dx, double sinscl, double h) {
    if (fabs(dx) >= h) return 0.0;
    return sinc(dx / sinscl) * sinc(dx / h);
}

// Weights of f(-1), f(0), f(1), f(2) in Everett's cubic at s (float32); the
// same polynomial as IRAF's ii_bipoly3, written as weights.
__device__ void cubic_weights(float s, float w[4]) {
    float t = F1 - s;
    float a = s * (s * s - F1) * SIXTH;
    float c = t * (t * t - F1) * SIXTH;
    w[0] = c;
    w[1] = a + t - F2 * c;
    w[2] = s - F2 * a + c;
    w[3] = a;
}

// Weights of f(-2) .. f(3) in Everett's quintic at s (float32).
__device__ void quintic_weights(float s, float w[6]) {
    float t = F1 - s;
    float s2 = s * s;
    float t2 = t * t;
    float a = s * (s2 - F1) * SIXTH;
    float b = s * (s2 - F1) * (s2 - F4) * ONE_120TH;
    float c = t * (t2 - F1) * SIXTH;
    float d = t * (t2 - F1) * (t2 - F4) * ONE_120TH;
    w[0] = d;
    w[1] = b + c - F4 * d;
    w[2] = a - F4 * b + t - F2 * c + F6 * d;
    w[3] = s - F2 * a + F6 * b + c - F4 * d;
    w[4] = a - F4 * b + d;
    w[5] = b;
}

// --------------------------------------------------------------------------
// Per-interpolant functions.  Each takes a position already known to be
// inside the image and returns double, as its Numba twin.
// --------------------------------------------------------------------------

// Value of the pixel nearest to (x, y), index clamped to the image.
__device__ double blot_nearest(const float* data, int nx, int ny, double x, double y) {
    int i = (int)floor(x + 0.5);
    int j = (int)floor(y + 0.5);
    if (i > nx - 1) i = nx - 1;
    if (j > ny - 1) j = ny - 1;
    return (double)data[(IDX_T)j * nx + i];
}

// Bilinear interpolation; 1-D on the last row/column, constant at the corner
// (cdrizzle holds the value constant beyond the last pixel centre).
__device__ double blot_linear(const float* data, int nx, int ny, double x, double y) {
    int ix, iy;
    float sx = split(x, &ix);
    float sy = split(y, &iy);
    const float* r0 = data + (IDX_T)iy * nx;
    float f00 = r0[ix];
    bool last_x = ix == nx - 1;
    bool last_y = iy == ny - 1;
    if (last_x && last_y) return (double)f00;
    const float* r1 = r0 + nx;  // only read when iy + 1 is a row of the image
    if (last_x) return (double)((F1 - sy) * f00 + sy * r1[ix]);
    if (last_y) return (double)((F1 - sx) * f00 + sx * r0[ix + 1]);
    float tx = F1 - sx;
    float ty = F1 - sy;
    float v = tx * ty * f00 + sx * ty * r0[ix + 1] + sy * tx * r1[ix] + sx * sy * r1[ix + 1];
    return (double)v;
}

// Bicubic interior polynomial on the 4x4 window (IRAF ii_bipoly3).
__device__ double blot_poly3(const float* data, int nx, int ny, double x, double y) {
    int ix, iy;
    float sx = split(x, &ix);
    float sy = split(y, &iy);
    bool inside = window_inside(nx, ny, ix, iy, 1, 2);
    float wx[4], wy[4];
    cubic_weights(sx, wx);
    cubic_weights(sy, wy);
    float acc = 0.0f;
    for (int r = 0; r < 4; ++r) {
        int j = iy - 1 + r;
        float row = 0.0f;
        for (int c = 0; c < 4; ++c) row += wx[c] * pix(data, nx, ny, ix - 1 + c, j, inside);
        acc += wy[r] * row;
    }
    return (double)acc;
}

// Biquintic interior polynomial on the 6x6 window (IRAF ii_bipoly5).
__device__ double blot_poly5(const float* data, int nx, int ny, double x, double y) {
    int ix, iy;
    float sx = split(x, &ix);
    float sy = split(y, &iy);
    bool inside = window_inside(nx, ny, ix, iy, 2, 3);
    float wx[6], wy[6];
    quintic_weights(sx, wx);
    quintic_weights(sy, wy);
    float acc = 0.0f;
    for (int r = 0; r < 6; ++r) {
        int j = iy - 2 + r;
        float row = 0.0f;
        for (int c = 0; c < 6; ++c) row += wx[c] * pix(data, nx, ny, ix - 2 + c, j, inside);
        acc += wy[r] * row;
    }
    return (double)acc;
}

// Normalised, tapered, truncated sinc of scale sinscl pixels: per axis
// w(d) = sinc(d / sinscl) sinc(d / h) for |d| < h = 3 sinscl, taps outside
// the image reflected, result sum(w f) / sum(w) (NaN where no tap has weight).
__device__ double blot_sinc(const float* data, int nx, int ny, double x, double y, double sinscl) {
    double h = SINC_NZEROS * sinscl;
    int i0 = (int)floor(x - h) + 1;
    int i1 = (int)floor(x + h);
    int j0 = (int)floor(y - h) + 1;
    int j1 = (int)floor(y + h);
    double num = 0.0;
    double den = 0.0;
    for (int j = j0; j <= j1; ++j) {
        double wy = sinc_weight(y - j, sinscl, h);
        for (int i = i0; i <= i1; ++i) {
            double w = sinc_weight(x - i, sinscl, h) * wy;
            num += w * reflected_pixel(data, nx, ny, i, j);
            den += w;
        }
    }
    if (den == 0.0) return nan("");
    return num / den;
}

// Lanczos interpolation of `order` through a look-up table, as cdrizzle:
// taps floor(x - order) + 1 .. floor(x + order) clipped to the image, weight
// lut[trunc(|d| / LUT_DELTA)] per axis, summed in double, not normalised.
__device__ double blot_lanczos(const float* data, int nx, int ny, double x, double y,
                               const double* lut, int nlut, int order) {
    int i0 = (int)floor(x - order) + 1;
    int i1 = (int)floor(x + order);
    int j0 = (int)floor(y - order) + 1;
    int j1 = (int)floor(y + order);
    if (i0 < 0) i0 = 0;
    if (i1 > nx - 1) i1 = nx - 1;
    if (j0 < 0) j0 = 0;
    if (j1 > ny - 1) j1 = ny - 1;
    double total = 0.0;
    for (int j = j0; j <= j1; ++j) {
        int ky = (int)(fabs(y - j) / LUT_DELTA);
        if (ky >= nlut) continue;
        double wy = lut[ky];
        const float* row = data + (IDX_T)j * nx;
        for (int i = i0; i <= i1; ++i) {
            int kx = (int)(fabs(x - i) / LUT_DELTA);
            if (kx >= nlut) continue;
            total += (double)row[i] * lut[kx] * wy;
        }
    }
    // cdrizzle rounds the sum to float32 before scaling; so does the twin.
    return (double)(float)total;
}

// --------------------------------------------------------------------------
// Driver
// --------------------------------------------------------------------------

// True if 0 <= x < nx and 0 <= y < ny (false for NaN: comparisons fail).
__device__ bool is_inside(int nx, int ny, double x, double y) {
    return x >= 0.0 && x < nx && y >= 0.0 && y < ny;
}

// One output pixel: the interpolant `code` at (x, y) times iscale, rounded to
// float32; positions outside the image, NaN or inf give fill.
__device__ float blot_pixel(const float* data, int nx, int ny, double x, double y, int code,
                            float fill, double iscale, double sinscl, const double* lut,
                            int nlut) {
    if (!is_inside(nx, ny, x, y)) return fill;
    double v;
    if (code == NEAREST) {
        v = blot_nearest(data, nx, ny, x, y);
    } else if (code == LINEAR) {
        v = blot_linear(data, nx, ny, x, y);
    } else if (code == POLY3) {
        v = blot_poly3(data, nx, ny, x, y);
    } else if (code == POLY5) {
        v = blot_poly5(data, nx, ny, x, y);
    } else if (code == SINC) {
        v = blot_sinc(data, nx, ny, x, y, sinscl);
    } else {
        v = blot_lanczos(data, nx, ny, x, y, lut, nlut, code == LANCZOS3 ? 3 : 5);
    }
    return (float)(v * iscale);
}

// Fill out[j, i] (out_ny x out_nx, float32) from data (ny x nx, float32) at
// pixmap[j, i] = (x, y) (out_ny x out_nx x 2, double).  Every thread of a
// warp takes the same interpolant branch, so switching per pixel costs
// nothing here (Numba switches per row instead).  lut is
// fallback.blot.lanczos_lut(5 if code is lanczos5 else 3), nlut its length.
extern "C" __global__ void blot_kernel(const float* data, int nx, int ny, const double* pixmap,
                                       float* out, int out_nx, int out_ny, int code, float fill,
                                       double iscale, double sinscl, const double* lut,
                                       int nlut) {
    const IDX_T n = (IDX_T)out_nx * out_ny;
    for (IDX_T p = (IDX_T)blockIdx.x * blockDim.x + threadIdx.x; p < n;
         p += (IDX_T)blockDim.x * gridDim.x) {
        out[p] = blot_pixel(data, nx, ny, pixmap[2 * p], pixmap[2 * p + 1], code, fill, iscale,
                            sinscl, lut, nlut);
    }
}
