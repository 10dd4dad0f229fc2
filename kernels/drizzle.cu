// drizzle.cu: the drizzle kernels (Fruchter & Hook 2002, PASP 114, 144;
// MultiDrizzle manual section 1.4).
//
// CUDA twin of fallback/drizzle.py (Numba); design principle 1.  Every input
// pixel (i, j) is mapped to the output frame through the pixmap and its flux
// shared among the output pixels it overlaps, according to the kernel.  Per
// output cell the kernels accumulate sum(dow * d), sum(dow), for variance
// planes sum(dow**2 * d2), a flag "some dow > 0" (for the context where a
// weight can be negative) and the OR of the input DQ; drizzle_merge_var and
// drizzle_merge then fold these sums into the running weighted mean.
//
// Kernel codes, shared with the twin: 0 square, 1 turbo, 2 point, 3 gaussian,
// 4 tophat, 5 lanczos2, 6 lanczos3.  The entries drizzle_square,
// drizzle_turbo, drizzle_point, drizzle_gaussian, drizzle_tophat and
// drizzle_lanczos (order 2 or 3, told by the length of the look-up table, as
// in the twin) keep the twin's names, constants, operation order and
// float32/float64 casts, so that with --fmad=false (the loader's NVRTC
// option) the contributions agree with Numba to the last bit outside exp();
// only the order of the double additions into a cell differs (atomics).
//
// How the signatures differ from Numba's:
// - explicit shapes: data, weights (ny, nx) with nx, ny; pixmap (ny, nx, 2);
//   data2 (n2, ny, nx) with n2 (NULL when n2 == 0); lut with nlut; the band
//   buffers' cell count nacc;
// - one output box (bx0..bx1, by0..by1) per launch: the host launches the
//   bands one after another, each into zeroed buffers, then merges it;
// - one thread per input pixel of rows j0..j1-1, columns xmin..xmax
//   (grid-stride), adding into the buffers with atomics instead of a band's
//   private buffer: acc_sw is (nacc, 2) interleaved sum/weight, acc_var is
//   (n2, nacc), acc_flag is unsigned int (uint8 in Numba), row_miss and
//   row_bad are unsigned long long (int64 in Numba);
// - Numba's None arrives as NULL (data2/acc_var, dq/acc_dq, acc_flag, ctx,
//   out_dq), and the merges take one band: no boxes/offsets, the box itself.
// The square kernel computes each overlap and adds it at once (the twin's
// scratch array only reorders the same values).
//
// Compiled by NVRTC (gpudriz.backend.cuda.loader), by nvcc --ptx and by g++ through
// tests/helpers/cuda_shim.h: no #include, only the C math functions all three
// provide, no shared memory.  IDX_T (int or long long) comes from the
// loader's preamble and types every flat index and element count.

// Kernel codes (the twin's KERNEL_CODES).
enum {
    DZ_SQUARE = 0,
    DZ_TURBO = 1,
    DZ_POINT = 2,
    DZ_GAUSSIAN = 3,
    DZ_TOPHAT = 4,
    DZ_LANCZOS2 = 5,
    DZ_LANCZOS3 = 6
};

// Spacing of the Lanczos look-up table (the twin's LANCZOS_LUT_DELTA).
static constexpr double DZ_LANCZOS_LUT_DELTA = 0.003;
// Gaussian FWHM / sigma (FWHM_SIGMA).
static constexpr double DZ_FWHM_SIGMA = 2.3548;
// Half-width of the Gaussian window in sigmas (GAUSSIAN_NSIG).
static constexpr double DZ_GAUSSIAN_NSIG = 2.5;
// A square drop whose mapped area is below this is skipped (MIN_DROP_AREA).
static constexpr double DZ_MIN_DROP_AREA = 1e-12;
// math.pi: no header constant is common to NVRTC and g++.
static constexpr double DZ_PI = 3.141592653589793;

// --------------------------------------------------------------------------
// Small helpers
// --------------------------------------------------------------------------

// Python's (and Numba's) min/max of two floats: the second argument only if
// it compares strictly smaller/larger, so signed zeros pick the same value.
__device__ __forceinline__ double dz_pymin(double a, double b) { return b < a ? b : a; }
__device__ __forceinline__ double dz_pymax(double a, double b) { return b > a ? b : a; }

// The twin's nint (round half away from zero), kept as an integral double so
// that a window limit is clamped before it is converted to int.
__device__ __forceinline__ double dz_nint(double x) {
    if (x >= 0.0) {
        double r = floor(x);
        return x - r >= 0.5 ? r + 1.0 : r;
    }
    double r = floor(-x);
    return -x - r >= 0.5 ? -(r + 1.0) : -r;
}

// max(v, lo) as an int for an integral double v, as the twin's integer
// clamp; a value past hi becomes hi + 1 (the window stays empty) so that the
// conversion never leaves int's range.
__device__ __forceinline__ int dz_clamp_lo(double v, int lo, int hi) {
    if (!(v > (double)lo)) {
        return lo;
    }
    return v > (double)hi ? hi + 1 : (int)v;
}

// min(v, hi) as an int, the mirror of dz_clamp_lo.
__device__ __forceinline__ int dz_clamp_hi(double v, int lo, int hi) {
    if (!(v < (double)hi)) {
        return hi;
    }
    return v < (double)lo ? lo - 1 : (int)v;
}

// An output window, inclusive; empty when ii0 > ii1 or jj0 > jj1.
struct DzWindow {
    int ii0, ii1, jj0, jj1;
};

// Everything one launch reads and accumulates into, gathered so that the
// per-kernel functions take one argument instead of twenty.
struct DzLaunch {
    const float* data;
    const float* weights;
    const double* pixmap;
    int nx, ny;
    const float* data2;
    int n2;
    const unsigned int* dq;
    double iscale, iscale2, wht_scale, pf, s;
    const double* lut;
    int nlut;
    int bx0, bx1, by0, by1;
    long long nacc;
    double* acc_sw;
    double* acc_var;
    unsigned int* acc_flag;
    unsigned int* acc_dq;
};

// Buffer cell of output pixel (ii, jj), which lies inside the box.
__device__ __forceinline__ IDX_T dz_cell(const DzLaunch& L, int ii, int jj) {
    return (IDX_T)(jj - L.by0) * (L.bx1 - L.bx0 + 1) + (ii - L.bx0);
}

// The twin's _accumulate: add one contribution of float32 weight dow and
// value d of input pixel pix to cell.  dow * d and dow * dow are float32
// products, as in Numba; the sums are double.
__device__ __forceinline__ void dz_accumulate(const DzLaunch& L, IDX_T cell, IDX_T pix, float d,
                                              float dow) {
    if (dow == 0.0f) {
        return;
    }
    atomicAdd(&L.acc_sw[2 * cell], (double)(dow * d));
    atomicAdd(&L.acc_sw[2 * cell + 1], (double)dow);
    if (L.acc_flag != nullptr && dow > 0.0f) {
        atomicOr(&L.acc_flag[cell], 1u);
    }
    if (L.data2 != nullptr && L.acc_var != nullptr) {
        const float dow2 = dow * dow;
        const IDX_T plane = (IDX_T)L.nx * L.ny;
        for (int k = 0; k < L.n2; ++k) {
            const float v = (float)((double)L.data2[(IDX_T)k * plane + pix] * L.iscale2);
            atomicAdd(&L.acc_var[(IDX_T)k * (IDX_T)L.nacc + cell], (double)(dow2 * v));
        }
    }
    if (L.dq != nullptr && L.acc_dq != nullptr) {
        atomicOr(&L.acc_dq[cell], L.dq[pix]);
    }
}

// --------------------------------------------------------------------------
// Geometry (the twin's _interp_point, square_corners, _edge_area, ...)
// --------------------------------------------------------------------------

// Bilinear interpolation of the pixmap at (xin, yin), extrapolating at the
// border: the cell's lower-left node is truncated toward zero, then clamped.
__device__ __forceinline__ void dz_interp_point(const DzLaunch& L, double xin, double yin,
                                                double* xo, double* yo) {
    int i0 = (int)xin;
    int j0 = (int)yin;
    if (i0 < 0) {
        i0 = 0;
    } else if (i0 > L.nx - 2) {
        i0 = L.nx - 2;
    }
    if (j0 < 0) {
        j0 = 0;
    } else if (j0 > L.ny - 2) {
        j0 = L.ny - 2;
    }
    const double x = xin - i0;
    const double y = yin - j0;
    const double x1 = 1.0 - x;
    const double y1 = 1.0 - y;
    const double* p00 = L.pixmap + ((IDX_T)j0 * L.nx + i0) * 2;
    const double* p10 = p00 + 2;
    const double* p01 = p00 + (IDX_T)L.nx * 2;
    const double* p11 = p01 + 2;
    *xo = p00[0] * x1 * y1 + p10[0] * x * y1 + p01[0] * x1 * y + p11[0] * x * y;
    *yo = p00[1] * x1 * y1 + p10[1] * x * y1 + p01[1] * x1 * y + p11[1] * x * y;
}

// Output-frame corners of input pixel (i, j) shrunk to half-size h, in the
// order (i-h, j+h), (i+h, j+h), (i+h, j-h), (i-h, j-h); false when one is
// NaN.  Interior pixels use the nine-node form (cdrizzle's arithmetic).
__device__ __forceinline__ bool dz_square_corners(const DzLaunch& L, int i, int j, double h,
                                                  double x[4], double y[4]) {
    if (i > 0 && i < L.nx - 2 && j > 0 && j < L.ny - 2) {
        const double fc = (1.0 - h) * (1.0 - h);
        const double fe = (1.0 - h) * h;
        const double fk = h * h;
        const IDX_T row = (IDX_T)L.nx * 2;
        const double* r0 = L.pixmap + ((IDX_T)(j - 1) * L.nx + (i - 1)) * 2;  // row j - 1
        const double* r1 = r0 + row;
        const double* r2 = r1 + row;
        // fab, gab: node (i - 1 + a, j - 1 + b) times its bilinear weight
        const double f00 = r0[0] * fk, f10 = r0[2] * fe, f20 = r0[4] * fk;
        const double f01 = r1[0] * fe, f11 = r1[2] * fc, f21 = r1[4] * fe;
        const double f02 = r2[0] * fk, f12 = r2[2] * fe, f22 = r2[4] * fk;
        const double g00 = r0[1] * fk, g10 = r0[3] * fe, g20 = r0[5] * fk;
        const double g01 = r1[1] * fe, g11 = r1[3] * fc, g21 = r1[5] * fe;
        const double g02 = r2[1] * fk, g12 = r2[3] * fe, g22 = r2[5] * fk;
        x[0] = f01 + f11 + f02 + f12;
        y[0] = g01 + g11 + g02 + g12;
        x[1] = f11 + f21 + f12 + f22;
        y[1] = g11 + g21 + g12 + g22;
        x[2] = f10 + f20 + f11 + f21;
        y[2] = g10 + g20 + g11 + g21;
        x[3] = f00 + f10 + f01 + f11;
        y[3] = g00 + g10 + g01 + g11;
    } else {
        dz_interp_point(L, i - h, j + h, &x[0], &y[0]);
        dz_interp_point(L, i + h, j + h, &x[1], &y[1]);
        dz_interp_point(L, i + h, j - h, &x[2], &y[2]);
        dz_interp_point(L, i - h, j - h, &x[3], &y[3]);
    }
    return !(isnan(x[0]) || isnan(x[1]) || isnan(x[2]) || isnan(x[3]) || isnan(y[0]) ||
             isnan(y[1]) || isnan(y[2]) || isnan(y[3]));
}

// One edge of a drop: dx = x2 - x1 of the unshifted corners, its slope and
// inverse slope (0 where undefined), computed once per drop.
struct DzEdge {
    double dx, slope, islope;
};

__device__ __forceinline__ DzEdge dz_edge_slopes(double xa, double ya, double xb, double yb) {
    DzEdge e;
    e.dx = xb - xa;
    const double dy = yb - ya;
    e.slope = e.dx != 0.0 ? dy / e.dx : 0.0;
    e.islope = dy != 0.0 ? e.dx / dy : 0.0;
    return e;
}

// Signed area under the segment (x1, y1)-(x2, y2) inside the unit square at
// the origin: cdrizzle's sgarea ("boxer") with the edge's slopes precomputed.
__device__ __forceinline__ double dz_edge_area(double x1, double y1, double x2, double y2,
                                               const DzEdge& e) {
    if (e.dx == 0.0) {
        return 0.0;
    }
    double sgn_dx, xlo, xhi;
    if (e.dx < 0.0) {
        sgn_dx = -1.0;
        xlo = x2;
        xhi = x1;
    } else {
        sgn_dx = 1.0;
        xlo = x1;
        xhi = x2;
    }
    if (xlo >= 1.0 || xhi <= 0.0) {
        return 0.0;
    }
    xlo = dz_pymax(xlo, 0.0);
    xhi = dz_pymin(xhi, 1.0);
    double ylo = y1 + e.slope * (xlo - x1);
    double yhi = y1 + e.slope * (xhi - x1);
    if (ylo <= 0.0 && yhi <= 0.0) {
        return 0.0;
    }
    if (ylo >= 1.0 && yhi >= 1.0) {
        return sgn_dx * (xhi - xlo);
    }
    if (ylo < 0.0) {
        ylo = 0.0;
        xlo = x1 - y1 * e.islope;
    }
    if (yhi < 0.0) {
        yhi = 0.0;
        xhi = x1 - y1 * e.islope;
    }
    if (ylo <= 1.0) {
        if (yhi <= 1.0) {
            return sgn_dx * 0.5 * (xhi - xlo) * (yhi + ylo);
        }
        const double xtop = x1 + (1.0 - y1) * e.islope;
        return sgn_dx * (0.5 * (xtop - xlo) * (1.0 + ylo) + xhi - xtop);
    }
    const double xtop = x1 + (1.0 - y1) * e.islope;
    return sgn_dx * (0.5 * (xhi - xtop) * (1.0 + yhi) + xtop - xlo);
}

// Overlap area of the axis-aligned box [xmin, xmax] x [ymin, ymax] with
// output pixel (ii, jj) (the twin's over).
__device__ __forceinline__ double dz_over(int ii, int jj, double xmin, double xmax, double ymin,
                                          double ymax) {
    const double dx = dz_pymin(xmax, ii + 0.5) - dz_pymax(xmin, ii - 0.5);
    const double dy = dz_pymin(ymax, jj + 0.5) - dz_pymax(ymin, jj - 0.5);
    if (dx > 0.0 && dy > 0.0) {
        return dx * dy;
    }
    return 0.0;
}

// Window [lo_x, hi_x] x [lo_y, hi_y] (integral doubles) clipped to the box;
// false when nothing is left (the twin's _clip_window).
__device__ __forceinline__ bool dz_clip_window(const DzLaunch& L, double lo_x, double hi_x,
                                               double lo_y, double hi_y, DzWindow* w) {
    w->ii0 = dz_clamp_lo(lo_x, L.bx0, L.bx1);
    w->ii1 = dz_clamp_hi(hi_x, L.bx0, L.bx1);
    w->jj0 = dz_clamp_lo(lo_y, L.by0, L.by1);
    w->jj1 = dz_clamp_hi(hi_y, L.by0, L.by1);
    return w->ii0 <= w->ii1 && w->jj0 <= w->jj1;
}

// Output window of a kernel centred on the mapped pixel centre (ox, oy), not
// square; false when the centre is NaN or the window misses the box (the
// twin's _center_window).
template <int K>
__device__ __forceinline__ bool dz_center_window(const DzLaunch& L, double ox, double oy,
                                                 DzWindow* w) {
    if (isnan(ox) || isnan(oy)) {
        return false;
    }
    if (K == DZ_POINT) {
        const double ii = dz_nint(ox);
        const double jj = dz_nint(oy);
        return dz_clip_window(L, ii, ii, jj, jj, w);
    }
    if (K == DZ_LANCZOS2 || K == DZ_LANCZOS3) {
        const double pfo = (K == DZ_LANCZOS2 ? 2.0 : 3.0) / L.s;
        return dz_clip_window(L, floor(ox - pfo) + 1.0, floor(ox + pfo), floor(oy - pfo) + 1.0,
                              floor(oy + pfo), w);
    }
    double pfo;
    if (K == DZ_GAUSSIAN) {
        pfo = dz_pymax(DZ_GAUSSIAN_NSIG * L.pf / DZ_FWHM_SIGMA / L.s, 1.2 / L.s);
    } else {  // turbo, tophat
        pfo = L.pf / L.s / 2.0;
    }
    return dz_clip_window(L, dz_nint(ox - pfo), dz_nint(ox + pfo), dz_nint(oy - pfo),
                          dz_nint(oy + pfo), w);
}

// --------------------------------------------------------------------------
// One input pixel per kernel; each returns whether the pixel reached some
// output pixel (false counts it in row_miss, as the twin's nmiss).
// --------------------------------------------------------------------------

// Square: exact overlap of the mapped, pixfrac-shrunk input pixel.
__device__ __forceinline__ bool dz_square_pixel(const DzLaunch& L, int i, int j, IDX_T pix,
                                                float d, float wf) {
    const double h = 0.5 * L.pf;
    double x[4], y[4];
    const bool ok = dz_square_corners(L, i, j, h, x, y);
    // Signed area of the drop; the edge areas carry the same sign.
    const double jaco = 0.5 * ((x[1] - x[3]) * (y[0] - y[2]) - (x[0] - x[2]) * (y[1] - y[3]));
    if (!ok || !(fabs(jaco) > DZ_MIN_DROP_AREA)) {
        return false;
    }
    const int ii0 = dz_clamp_lo(
        dz_nint(dz_pymin(dz_pymin(x[0], x[1]), dz_pymin(x[2], x[3]))), L.bx0, L.bx1);
    const int ii1 = dz_clamp_hi(
        dz_nint(dz_pymax(dz_pymax(x[0], x[1]), dz_pymax(x[2], x[3]))), L.bx0, L.bx1);
    const int jj0 = dz_clamp_lo(
        dz_nint(dz_pymin(dz_pymin(y[0], y[1]), dz_pymin(y[2], y[3]))), L.by0, L.by1);
    const int jj1 = dz_clamp_hi(
        dz_nint(dz_pymax(dz_pymax(y[0], y[1]), dz_pymax(y[2], y[3]))), L.by0, L.by1);
    const double w = (double)wf / jaco;
    const DzEdge e0 = dz_edge_slopes(x[0], y[0], x[1], y[1]);
    const DzEdge e1 = dz_edge_slopes(x[1], y[1], x[2], y[2]);
    const DzEdge e2 = dz_edge_slopes(x[2], y[2], x[3], y[3]);
    const DzEdge e3 = dz_edge_slopes(x[3], y[3], x[0], y[0]);
    bool hit = false;
    for (int jj = jj0; jj <= jj1; ++jj) {
        const double ys = jj - 0.5;
        const double qy0 = y[0] - ys;
        const double qy1 = y[1] - ys;
        const double qy2 = y[2] - ys;
        const double qy3 = y[3] - ys;
        for (int ii = ii0; ii <= ii1; ++ii) {
            // signed overlap of the quad with pixel (ii, jj), edge by edge
            const double xs = ii - 0.5;
            const double qx0 = x[0] - xs;
            const double qx1 = x[1] - xs;
            const double qx2 = x[2] - xs;
            const double qx3 = x[3] - xs;
            double a = dz_edge_area(qx0, qy0, qx1, qy1, e0);
            a += dz_edge_area(qx1, qy1, qx2, qy2, e1);
            a += dz_edge_area(qx2, qy2, qx3, qy3, e2);
            a += dz_edge_area(qx3, qy3, qx0, qy0, e3);
            if (a != 0.0) {
                hit = true;
                dz_accumulate(L, dz_cell(L, ii, jj), pix, d, (float)(a * w));
            }
        }
    }
    return hit;
}

// Point: all of the pixel's weight to the nearest output pixel.
__device__ __forceinline__ bool dz_point_pixel(const DzLaunch& L, IDX_T pix, float d, float wf) {
    DzWindow w;
    if (!dz_center_window<DZ_POINT>(L, L.pixmap[2 * pix], L.pixmap[2 * pix + 1], &w)) {
        return false;
    }
    dz_accumulate(L, dz_cell(L, w.ii0, w.jj0), pix, d, wf);
    return true;
}

// Turbo: an axis-aligned box of side pf/s output pixels.
__device__ __forceinline__ bool dz_turbo_pixel(const DzLaunch& L, IDX_T pix, float d, float wf) {
    const double ox = L.pixmap[2 * pix];
    const double oy = L.pixmap[2 * pix + 1];
    DzWindow w;
    if (!dz_center_window<DZ_TURBO>(L, ox, oy, &w)) {
        return false;
    }
    const double pfo = L.pf / L.s / 2.0;
    const double dover_scale = (1.0 / (L.pf * L.pf)) * L.s * L.s;
    bool hit = false;
    for (int jj = w.jj0; jj <= w.jj1; ++jj) {
        for (int ii = w.ii0; ii <= w.ii1; ++ii) {
            const double dover = dz_over(ii, jj, ox - pfo, ox + pfo, oy - pfo, oy + pfo);
            if (dover > 0.0) {
                hit = true;
                dz_accumulate(L, dz_cell(L, ii, jj), pix, d,
                              (float)(dover * dover_scale * (double)wf));
            }
        }
    }
    return hit;
}

// Gaussian: weight (efac/pi) exp(-r^2 efac), sigma = pf/(2.3548 s).  Every
// pixel whose window meets the box counts as reaching the output (as in the
// twin), even where its weights underflow to zero.
__device__ __forceinline__ bool dz_gaussian_pixel(const DzLaunch& L, IDX_T pix, float d,
                                                  float wf) {
    const double ox = L.pixmap[2 * pix];
    const double oy = L.pixmap[2 * pix + 1];
    DzWindow w;
    if (!dz_center_window<DZ_GAUSSIAN>(L, ox, oy, &w)) {
        return false;
    }
    const double efac =
        (DZ_FWHM_SIGMA * DZ_FWHM_SIGMA) * (L.s * L.s) * (1.0 / (L.pf * L.pf)) / 2.0;
    const double es = efac / DZ_PI;
    for (int jj = w.jj0; jj <= w.jj1; ++jj) {
        const double ddy = oy - jj;
        for (int ii = w.ii0; ii <= w.ii1; ++ii) {
            const double ddx = ox - ii;
            const double dover = es * exp(-(ddx * ddx + ddy * ddy) * efac);
            dz_accumulate(L, dz_cell(L, ii, jj), pix, d, (float)(dover * (double)wf));
        }
    }
    return true;
}

// Tophat: full weight to every output pixel centred within pf/(2s).
__device__ __forceinline__ bool dz_tophat_pixel(const DzLaunch& L, IDX_T pix, float d, float wf) {
    const double ox = L.pixmap[2 * pix];
    const double oy = L.pixmap[2 * pix + 1];
    DzWindow w;
    if (!dz_center_window<DZ_TOPHAT>(L, ox, oy, &w)) {
        return false;
    }
    const double pfo = L.pf / L.s / 2.0;
    const double pfo2 = pfo * pfo;
    bool hit = false;
    for (int jj = w.jj0; jj <= w.jj1; ++jj) {
        const double ddy = oy - jj;
        for (int ii = w.ii0; ii <= w.ii1; ++ii) {
            const double ddx = ox - ii;
            if (ddx * ddx + ddy * ddy <= pfo2) {
                hit = true;
                dz_accumulate(L, dz_cell(L, ii, jj), pix, d, wf);
            }
        }
    }
    return hit;
}

// Lanczos (order K: 2 or 3): separable weights L(dx s) L(dy s) from the table.
template <int K>
__device__ __forceinline__ bool dz_lanczos_pixel(const DzLaunch& L, IDX_T pix, float d,
                                                 float wf) {
    const double ox = L.pixmap[2 * pix];
    const double oy = L.pixmap[2 * pix + 1];
    DzWindow w;
    if (!dz_center_window<K>(L, ox, oy, &w)) {
        return false;
    }
    const double sdp = L.s / DZ_LANCZOS_LUT_DELTA;
    const double nlut = (double)L.nlut;
    bool hit = false;
    for (int jj = w.jj0; jj <= w.jj1; ++jj) {
        const double iy = dz_nint(fabs((oy - jj) * sdp));
        if (iy >= nlut) {
            continue;
        }
        for (int ii = w.ii0; ii <= w.ii1; ++ii) {
            const double ix = dz_nint(fabs((ox - ii) * sdp));
            if (ix >= nlut) {
                continue;
            }
            hit = true;
            dz_accumulate(L, dz_cell(L, ii, jj), pix, d,
                          (float)(L.lut[(int)ix] * L.lut[(int)iy] * (double)wf));
        }
    }
    return hit;
}

// The pixel loop shared by every kernel: one thread per input pixel of rows
// j0..j1-1, columns xmin..xmax.  A pixel whose scaled data or weight is not
// finite is counted in row_bad and row_miss and contributes nothing.
template <int K>
__device__ __forceinline__ void dz_drizzle(const DzLaunch& L, int xmin, int xmax, int j0, int j1,
                                           unsigned long long* row_miss,
                                           unsigned long long* row_bad, int row_base) {
    const int ncol = xmax - xmin + 1;
    const IDX_T n = (ncol > 0 && j1 > j0) ? (IDX_T)(j1 - j0) * ncol : 0;
    for (IDX_T p = (IDX_T)blockIdx.x * blockDim.x + threadIdx.x; p < n;
         p += (IDX_T)blockDim.x * gridDim.x) {
        const int j = j0 + (int)(p / ncol);
        const int i = xmin + (int)(p % ncol);
        const IDX_T pix = (IDX_T)j * L.nx + i;
        const float d = (float)((double)L.data[pix] * L.iscale);
        const float wf = (float)((double)L.weights[pix] * L.wht_scale);
        bool hit;
        if (!(isfinite((double)d) && isfinite((double)wf))) {
            atomicAdd(&row_bad[j - row_base], 1ULL);
            hit = false;
        } else if (K == DZ_SQUARE) {
            hit = dz_square_pixel(L, i, j, pix, d, wf);
        } else if (K == DZ_POINT) {
            hit = dz_point_pixel(L, pix, d, wf);
        } else if (K == DZ_TURBO) {
            hit = dz_turbo_pixel(L, pix, d, wf);
        } else if (K == DZ_GAUSSIAN) {
            hit = dz_gaussian_pixel(L, pix, d, wf);
        } else if (K == DZ_TOPHAT) {
            hit = dz_tophat_pixel(L, pix, d, wf);
        } else {
            hit = dz_lanczos_pixel<K>(L, pix, d, wf);
        }
        if (!hit) {
            atomicAdd(&row_miss[j - row_base], 1ULL);
        }
    }
}

// Gather a launch's arguments (all entries share the twin's argument list).
__device__ __forceinline__ DzLaunch dz_launch(
    const float* data, const float* weights, const double* pixmap, int nx, int ny,
    const float* data2, int n2, const unsigned int* dq, double iscale, double iscale2,
    double wht_scale, double pf, double s, const double* lut, int nlut, int bx0, int bx1,
    int by0, int by1, long long nacc, double* acc_sw, double* acc_var, unsigned int* acc_flag,
    unsigned int* acc_dq) {
    DzLaunch L;
    L.data = data;
    L.weights = weights;
    L.pixmap = pixmap;
    L.nx = nx;
    L.ny = ny;
    L.data2 = n2 > 0 ? data2 : nullptr;
    L.n2 = n2;
    L.dq = dq;
    L.iscale = iscale;
    L.iscale2 = iscale2;
    L.wht_scale = wht_scale;
    L.pf = pf;
    L.s = s;
    L.lut = lut;
    L.nlut = nlut;
    L.bx0 = bx0;
    L.bx1 = bx1;
    L.by0 = by0;
    L.by1 = by1;
    L.nacc = nacc;
    L.acc_sw = acc_sw;
    L.acc_var = acc_var;
    L.acc_flag = acc_flag;
    L.acc_dq = acc_dq;
    return L;
}

// --------------------------------------------------------------------------
// Entries: the twin's drizzle_<kernel>, with explicit shapes
// --------------------------------------------------------------------------

extern "C" __global__ void drizzle_square(
    const float* data, const float* weights, const double* pixmap, int nx, int ny,
    const float* data2, int n2, const unsigned int* dq,
    int xmin, int xmax, int j0, int j1,
    double iscale, double iscale2, double wht_scale, double pf, double s,
    const double* lut, int nlut,
    int bx0, int bx1, int by0, int by1, long long nacc,
    double* acc_sw, double* acc_var, unsigned int* acc_flag, unsigned int* acc_dq,
    unsigned long long* row_miss, unsigned long long* row_bad, int row_base) {
    const DzLaunch L = dz_launch(data, weights, pixmap, nx, ny, data2, n2, dq, iscale, iscale2,
                                 wht_scale, pf, s, lut, nlut, bx0, bx1, by0, by1, nacc, acc_sw,
                                 acc_var, acc_flag, acc_dq);
    dz_drizzle<DZ_SQUARE>(L, xmin, xmax, j0, j1, row_miss, row_bad, row_base);
}

extern "C" __global__ void drizzle_point(
    const float* data, const float* weights, const double* pixmap, int nx, int ny,
    const float* data2, int n2, const unsigned int* dq,
    int xmin, int xmax, int j0, int j1,
    double iscale, double iscale2, double wht_scale, double pf, double s,
    const double* lut, int nlut,
    int bx0, int bx1, int by0, int by1, long long nacc,
    double* acc_sw, double* acc_var, unsigned int* acc_flag, unsigned int* acc_dq,
    unsigned long long* row_miss, unsigned long long* row_bad, int row_base) {
    const DzLaunch L = dz_launch(data, weights, pixmap, nx, ny, data2, n2, dq, iscale, iscale2,
                                 wht_scale, pf, s, lut, nlut, bx0, bx1, by0, by1, nacc, acc_sw,
                                 acc_var, acc_flag, acc_dq);
    dz_drizzle<DZ_POINT>(L, xmin, xmax, j0, j1, row_miss, row_bad, row_base);
}

extern "C" __global__ void drizzle_turbo(
    const float* data, const float* weights, const double* pixmap, int nx, int ny,
    const float* data2, int n2, const unsigned int* dq,
    int xmin, int xmax, int j0, int j1,
    double iscale, double iscale2, double wht_scale, double pf, double s,
    const double* lut, int nlut,
    int bx0, int bx1, int by0, int by1, long long nacc,
    double* acc_sw, double* acc_var, unsigned int* acc_flag, unsigned int* acc_dq,
    unsigned long long* row_miss, unsigned long long* row_bad, int row_base) {
    const DzLaunch L = dz_launch(data, weights, pixmap, nx, ny, data2, n2, dq, iscale, iscale2,
                                 wht_scale, pf, s, lut, nlut, bx0, bx1, by0, by1, nacc, acc_sw,
                                 acc_var, acc_flag, acc_dq);
    dz_drizzle<DZ_TURBO>(L, xmin, xmax, j0, j1, row_miss, row_bad, row_base);
}

extern "C" __global__ void drizzle_gaussian(
    const float* data, const float* weights, const double* pixmap, int nx, int ny,
    const float* data2, int n2, const unsigned int* dq,
    int xmin, int xmax, int j0, int j1,
    double iscale, double iscale2, double wht_scale, double pf, double s,
    const double* lut, int nlut,
    int bx0, int bx1, int by0, int by1, long long nacc,
    double* acc_sw, double* acc_var, unsigned int* acc_flag, unsigned int* acc_dq,
    unsigned long long* row_miss, unsigned long long* row_bad, int row_base) {
    const DzLaunch L = dz_launch(data, weights, pixmap, nx, ny, data2, n2, dq, iscale, iscale2,
                                 wht_scale, pf, s, lut, nlut, bx0, bx1, by0, by1, nacc, acc_sw,
                                 acc_var, acc_flag, acc_dq);
    dz_drizzle<DZ_GAUSSIAN>(L, xmin, xmax, j0, j1, row_miss, row_bad, row_base);
}

extern "C" __global__ void drizzle_tophat(
    const float* data, const float* weights, const double* pixmap, int nx, int ny,
    const float* data2, int n2, const unsigned int* dq,
    int xmin, int xmax, int j0, int j1,
    double iscale, double iscale2, double wht_scale, double pf, double s,
    const double* lut, int nlut,
    int bx0, int bx1, int by0, int by1, long long nacc,
    double* acc_sw, double* acc_var, unsigned int* acc_flag, unsigned int* acc_dq,
    unsigned long long* row_miss, unsigned long long* row_bad, int row_base) {
    const DzLaunch L = dz_launch(data, weights, pixmap, nx, ny, data2, n2, dq, iscale, iscale2,
                                 wht_scale, pf, s, lut, nlut, bx0, bx1, by0, by1, nacc, acc_sw,
                                 acc_var, acc_flag, acc_dq);
    dz_drizzle<DZ_TOPHAT>(L, xmin, xmax, j0, j1, row_miss, row_bad, row_base);
}

// The order (2 or 3) is carried by the table's length, as in the twin:
// order = (nlut - 1) * delta, lanczos2 below 2.5.
extern "C" __global__ void drizzle_lanczos(
    const float* data, const float* weights, const double* pixmap, int nx, int ny,
    const float* data2, int n2, const unsigned int* dq,
    int xmin, int xmax, int j0, int j1,
    double iscale, double iscale2, double wht_scale, double pf, double s,
    const double* lut, int nlut,
    int bx0, int bx1, int by0, int by1, long long nacc,
    double* acc_sw, double* acc_var, unsigned int* acc_flag, unsigned int* acc_dq,
    unsigned long long* row_miss, unsigned long long* row_bad, int row_base) {
    const DzLaunch L = dz_launch(data, weights, pixmap, nx, ny, data2, n2, dq, iscale, iscale2,
                                 wht_scale, pf, s, lut, nlut, bx0, bx1, by0, by1, nacc, acc_sw,
                                 acc_var, acc_flag, acc_dq);
    const double order = (nlut - 1) * DZ_LANCZOS_LUT_DELTA;
    if (order < 2.5) {
        dz_drizzle<DZ_LANCZOS2>(L, xmin, xmax, j0, j1, row_miss, row_bad, row_base);
    } else {
        dz_drizzle<DZ_LANCZOS3>(L, xmin, xmax, j0, j1, row_miss, row_bad, row_base);
    }
}

// --------------------------------------------------------------------------
// Merges: fold one band's sums into the output (one thread per box pixel)
// --------------------------------------------------------------------------

// Fold one variance sum into out_var, which holds sum(w**2 v) / (sum w)**2:
// out_var = (out_var W**2 + S2) / (W + dW)**2 with W the weight before this
// band, hence launched before drizzle_merge updates out_wht.  A pixel whose
// weight returns to zero gets fill when do_fill.
extern "C" __global__ void drizzle_merge_var(
    const double* acc_sw, const double* acc_var_k,
    int bx0, int bx1, int by0, int by1,
    const float* out_wht, float* out_var, int out_nx, int do_fill, float fill) {
    const int bw = bx1 - bx0 + 1;
    const IDX_T n = (bw > 0 && by1 >= by0) ? (IDX_T)bw * (by1 - by0 + 1) : 0;
    for (IDX_T p = (IDX_T)blockIdx.x * blockDim.x + threadIdx.x; p < n;
         p += (IDX_T)blockDim.x * gridDim.x) {
        const float dw = (float)acc_sw[2 * p + 1];
        if (dw == 0.0f) {
            continue;
        }
        const int y = by0 + (int)(p / bw);
        const int x = bx0 + (int)(p % bw);
        const IDX_T o = (IDX_T)y * out_nx + x;
        const double wold = (double)out_wht[o];
        // the float32 weight drizzle_merge will store
        const double wnew = (double)(float)(wold + (double)dw);
        if (wnew == 0.0) {
            if (do_fill) {
                out_var[o] = fill;
            }
        } else if (wold == 0.0) {
            out_var[o] = (float)(acc_var_k[p] / (wnew * wnew));
        } else {
            out_var[o] = (float)(((double)out_var[o] * wold * wold + acc_var_k[p]) / (wnew * wnew));
        }
    }
}

// Fold the band's sums into the running weighted mean out_img / out_wht:
// out_img = (out_img W + S) / (W + dW).  ctx (NULL: no context) gets ctx_bit
// where some contribution had positive weight: acc_flag, or dW > 0 when no
// weight can be negative and acc_flag is NULL.  out_dq (NULL: none) is OR-ed
// with the band's DQ.  A pixel whose weight returns to exactly zero gets
// weight 0 and, when do_fill, the value fill.
extern "C" __global__ void drizzle_merge(
    const double* acc_sw, const unsigned int* acc_flag, const unsigned int* acc_dq,
    int bx0, int bx1, int by0, int by1,
    float* out_img, float* out_wht, int out_nx,
    int* ctx, int ctx_bit, unsigned int* out_dq, int do_fill, float fill) {
    const int bw = bx1 - bx0 + 1;
    const IDX_T n = (bw > 0 && by1 >= by0) ? (IDX_T)bw * (by1 - by0 + 1) : 0;
    for (IDX_T p = (IDX_T)blockIdx.x * blockDim.x + threadIdx.x; p < n;
         p += (IDX_T)blockDim.x * gridDim.x) {
        const int y = by0 + (int)(p / bw);
        const int x = bx0 + (int)(p % bw);
        const IDX_T o = (IDX_T)y * out_nx + x;
        const float dw = (float)acc_sw[2 * p + 1];
        // One thread per output pixel within a launch: plain read-modify-writes.
        if (ctx != nullptr) {
            if (acc_flag == nullptr ? dw > 0.0f : acc_flag[p] != 0u) {
                ctx[o] |= ctx_bit;
            }
        }
        if (out_dq != nullptr && acc_dq != nullptr) {
            out_dq[o] |= acc_dq[p];
        }
        if (dw == 0.0f) {
            continue;
        }
        const double wold = (double)out_wht[o];
        const double wnew = wold + (double)dw;
        if ((float)wnew == 0.0f) {
            out_wht[o] = 0.0f;
            if (do_fill) {
                out_img[o] = fill;
            }
            continue;
        }
        if (wold == 0.0) {
            out_img[o] = (float)(acc_sw[2 * p] / (double)dw);
        } else {
            out_img[o] = (float)(((double)out_img[o] * wold + acc_sw[2 * p]) / wnew);
        }
        out_wht[o] = (float)wnew;
    }
}
