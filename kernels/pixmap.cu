// pixmap.cu: per-pixel pixmap from a sparse grid of exactly mapped nodes, and
// the lookup-table distortions (D2IM, NPOL) added on top of it.
//
// CUDA twin of fallback/pixmap.py (Numba); design principle 7.  Each output
// pixel is the separable 4-point cubic Lagrange interpolation of the two
// mapped coordinates over the 4x4 nodes around it.  Same cell choice
// (floor in double, then clamp), same weights and the same operation order
// as the twin, so with --fmad=false (the loader's NVRTC option) both give the
// same doubles; a non-finite node makes every pixel whose stencil holds it
// NaN, as there.
//
// Signatures differ from Numba's only where C needs explicit shapes: grid is a
// flat row-major (gy, gx, 2) pointer plus (gx, gy), out a flat (ny, nx, 2)
// pointer plus (nx, ny).  Numba's driver
//     interpolate_pixmap(grid, x0, y0, step, out)
// is the kernel
//     pixmap_cubic(grid, gx, gy, x0, y0, step, out, nx, ny)
// (a grid-stride loop over the ny * nx pixels), and Numba's per-pixel
//     pixmap_cubic(grid, x0, y0, step, i, j, out)
// is the device function pixmap_cubic_pixel (C cannot give the kernel and the
// device function one name); _lagrange4 is lagrange4.
//
// Compiled by NVRTC (gpudriz.backend.cuda.loader), by nvcc --ptx and by g++ through
// tests/helpers/cuda_shim.h: no #include, only the C math functions both provide.
// IDX_T (int or long long) comes from the loader's preamble and types every
// flat index.

// Cubic Lagrange weights of the nodes at -1, 0, 1, 2 for the position t.
__device__ void lagrange4(double t, double w[4]) {
    double tp1 = t + 1.0;
    double tm1 = t - 1.0;
    double tm2 = t - 2.0;
    w[0] = -t * tm1 * tm2 * (1.0 / 6.0);
    w[1] = tp1 * tm1 * tm2 * 0.5;
    w[2] = -tp1 * t * tm2 * 0.5;
    w[3] = tp1 * t * tm1 * (1.0 / 6.0);
}

// Interpolate the pixmap at input pixel (i, j) and store it in out[j, i].
// Node grid[k, l] holds the mapped (x, y) of input pixel
// (x0 + l * step, y0 + k * step).  The cell floor((p - p0) / step) is taken in
// double (an IEEE quotient of two integers is exact whenever the quotient
// is, so this is integer floor division without a slow 64-bit division);
// the clamp keeps every read inside the grid (gx, gy >= 4).
__device__ void pixmap_cubic_pixel(const double* grid, int gx, int gy, int x0, int y0, int step,
                                   int i, int j, double* out, int nx) {
    double fstep = (double)step;
    double fx = (double)((long long)i - x0) / fstep;
    double fy = (double)((long long)j - y0) / fstep;
    // Clamped in double, then cast: the same as Numba's integer clamp for
    // every finite value, and never an out-of-range conversion.
    int cx = (int)fmin(fmax(floor(fx), 1.0), (double)(gx - 3));
    int cy = (int)fmin(fmax(floor(fy), 1.0), (double)(gy - 3));
    double ax[4], ay[4];
    lagrange4(fx - cx, ax);
    lagrange4(fy - cy, ay);
    const IDX_T row = (IDX_T)gx * 2;
    const double* g0 = grid + (IDX_T)(cy - 1) * row + (IDX_T)(cx - 1) * 2;
    const double* g1 = g0 + row;
    const double* g2 = g1 + row;
    const double* g3 = g2 + row;
    double* o = out + ((IDX_T)j * nx + i) * 2;
    for (int c = 0; c < 2; ++c) {
        double r0 = ax[0] * g0[c] + ax[1] * g0[2 + c] + ax[2] * g0[4 + c] + ax[3] * g0[6 + c];
        double r1 = ax[0] * g1[c] + ax[1] * g1[2 + c] + ax[2] * g1[4 + c] + ax[3] * g1[6 + c];
        double r2 = ax[0] * g2[c] + ax[1] * g2[2 + c] + ax[2] * g2[4 + c] + ax[3] * g2[6 + c];
        double r3 = ax[0] * g3[c] + ax[1] * g3[2 + c] + ax[2] * g3[4 + c] + ax[3] * g3[6 + c];
        o[c] = ay[0] * r0 + ay[1] * r1 + ay[2] * r2 + ay[3] * r3;
    }
}

// Fill the pixmap out (ny, nx, 2) by bicubic interpolation of the node grid
// (gy, gx, 2) whose node [0, 0] is input pixel (x0, y0), nodes every step
// pixels; one thread per pixel, grid-stride.
extern "C" __global__ void pixmap_cubic(const double* grid, int gx, int gy, int x0, int y0,
                                        int step, double* out, int nx, int ny) {
    const IDX_T n = (IDX_T)nx * ny;
    for (IDX_T p = (IDX_T)blockIdx.x * blockDim.x + threadIdx.x; p < n;
         p += (IDX_T)blockDim.x * gridDim.x) {
        IDX_T j = p / nx;
        IDX_T i = p - j * nx;
        pixmap_cubic_pixel(grid, gx, gy, x0, y0, step, (int)i, (int)j, out, nx);
    }
}

// ---------------------------------------------------------------------------
// Lookup-table distortions (D2IM, NPOL) on top of the smooth pixmap.
//
// Numba's driver
//     interpolate_pixmap_tables(grid, jac, x0, y0, step, tables, tparams, out)
// is the kernel
//     pixmap_cubic_lookup(grid, jac, gx, gy, x0, y0, step, tables, tparams, out, nx, ny)
// and Numba's per-pixel pixmap_cubic_lookup(..., i, j, out) is the device
// function pixmap_cubic_lookup_pixel; table_offset is table_offset.  tparams is
// a flat (4, TABLE_PARAMS) array: per table (D2IM1, D2IM2, CPDIS1, CPDIS2) its
// offset in tables, width (0: absent), height, then a0, b0, a1, b1 with the
// table coordinate along axis k of the 1-based pixel x being x * a_k + b_k.
// (Numba's driver shares some of this work between pixels; the values are
// the same.)
#define TABLE_PARAMS 7

// Offset of lookup table k at the 1-based pixel (x, y), as astropy's
// distortion.c computes it: the table coordinate on each axis, clamped to the
// table, bilinear between the clamped neighbours; 0 for an absent table.
__device__ double table_offset(const double* tables, const double* tparams, int k, double x,
                               double y) {
    const double* tp = tparams + k * TABLE_PARAMS;
    int nx = (int)tp[1];
    if (nx == 0) return 0.0;
    int ny = (int)tp[2];
    IDX_T off = (IDX_T)tp[0];
    double u = fmin(fmax(x * tp[3] + tp[4], 0.0), nx - 1.0);
    double v = fmin(fmax(y * tp[5] + tp[6], 0.0), ny - 1.0);
    double fu = floor(u);
    double fv = floor(v);
    int i0 = (int)fu;
    int j0 = (int)fv;
    double wu = u - fu;
    double wv = v - fv;
    int i1 = i0 + 1 < nx - 1 ? i0 + 1 : nx - 1;
    int j1 = j0 + 1 < ny - 1 ? j0 + 1 : ny - 1;
    const double* t = tables + off;
    return t[(IDX_T)j0 * nx + i0] * (1.0 - wu) * (1.0 - wv) +
           t[(IDX_T)j1 * nx + i0] * (1.0 - wu) * wv + t[(IDX_T)j0 * nx + i1] * wu * (1.0 - wv) +
           t[(IDX_T)j1 * nx + i1] * wu * wv;
}

// Cell (clamped to 0 .. n - 2) and fraction of pixel p between nodes.
__device__ int node_cell(int p, int p0, double inv_step, int n, double* t) {
    double f = (double)((long long)p - p0) * inv_step;
    int c = (int)fmin(fmax(floor(f), 0.0), (double)(n - 2));
    *t = f - c;
    return c;
}

// The pixmap at input pixel (i, j) of a WCS with lookup tables: grid holds the
// nodes of the WCS without them (interpolated by pixmap_cubic_pixel), and the
// map moves by J_L d + J_K n, with d the D2IM offset, n the NPOL offset at the
// D2IM-moved pixel and the Jacobians bilinear (y first, then x) between the
// same nodes (jac, gy x gx x 8: J_L row-major, then J_K).
__device__ void pixmap_cubic_lookup_pixel(const double* grid, const double* jac, int gx, int gy,
                                          int x0, int y0, int step, const double* tables,
                                          const double* tparams, int i, int j, double* out,
                                          int nx) {
    pixmap_cubic_pixel(grid, gx, gy, x0, y0, step, i, j, out, nx);
    double inv_step = 1.0 / step;
    double tx, ty;
    int cx = node_cell(i, x0, inv_step, gx, &tx);
    int cy = node_cell(j, y0, inv_step, gy, &ty);
    const IDX_T row = (IDX_T)gx * 8;
    const double* a = jac + (IDX_T)cy * row + (IDX_T)cx * 8;  // (cy, cx)
    const double* c = a + row;                                // (cy + 1, cx)
    double jv[8];
    for (int q = 0; q < 8; ++q) {
        double left = (1.0 - ty) * a[q] + ty * c[q];
        double right = (1.0 - ty) * a[8 + q] + ty * c[8 + q];
        jv[q] = (1.0 - tx) * left + tx * right;
    }
    double xi = (double)i;
    double yj = (double)j;
    double d1 = table_offset(tables, tparams, 0, xi + 1.0, yj + 1.0);
    double d2 = table_offset(tables, tparams, 1, xi + 1.0, yj + 1.0);
    double n1 = table_offset(tables, tparams, 2, xi + d1 + 1.0, yj + d2 + 1.0);
    double n2 = table_offset(tables, tparams, 3, xi + d1 + 1.0, yj + d2 + 1.0);
    double* o = out + ((IDX_T)j * nx + i) * 2;
    o[0] += (jv[0] * d1 + jv[1] * d2) + (jv[4] * n1 + jv[5] * n2);
    o[1] += (jv[2] * d1 + jv[3] * d2) + (jv[6] * n1 + jv[7] * n2);
}

// Fill the pixmap out (ny, nx, 2) of a WCS with D2IM/NPOL lookup tables from the
// nodes of the same WCS without them; one thread per pixel, grid-stride.
extern "C" __global__ void pixmap_cubic_lookup(const double* grid, const double* jac, int gx,
                                               int gy, int x0, int y0, int step,
                                               const double* tables, const double* tparams,
                                               double* out, int nx, int ny) {
    const IDX_T n = (IDX_T)nx * ny;
    for (IDX_T p = (IDX_T)blockIdx.x * blockDim.x + threadIdx.x; p < n;
         p += (IDX_T)blockDim.x * gridDim.x) {
        IDX_T j = p / nx;
        IDX_T i = p - j * nx;
        pixmap_cubic_lookup_pixel(grid, jac, gx, gy, x0, y0, step, tables, tparams, (int)i,
                                  (int)j, out, nx);
    }
}
