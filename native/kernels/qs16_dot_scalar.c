/* 16x8 window dot products, scalar twin (contract in qs16_dot.h). */
#include "qs16_dot.h"

void pe_qs16_dot_4c__scalar(const pe_qs16_window *w, const int16_t *x, const int8_t *f, size_t f_stride,
                            size_t nc, int64_t *acc) {
  size_t j;
  int32_t r, q, i;
  for (j = 0; j < nc; ++j) {
    const int8_t *fj = f + j * f_stride;
    int64_t s = 0;
    for (r = 0; r < w->rows; ++r)
      for (q = 0; q < w->runs; ++q) {
        const int16_t *xr = x + (ptrdiff_t)r * w->in_row + (ptrdiff_t)q * w->in_run;
        const int8_t *fr = fj + (ptrdiff_t)r * w->f_row + (ptrdiff_t)q * w->f_run;
        for (i = 0; i < w->len; ++i) s += (int32_t)fr[i] * (int32_t)xr[i];
      }
    acc[j] = s;
  }
}

void pe_qs16_dw_px__scalar(const pe_qs16_taps *t, const int16_t *x, const int8_t *f, size_t nch, int64_t *acc) {
  size_t c;
  int32_t r, k;
  for (c = 0; c < nch; ++c) {
    int64_t s = 0;
    for (r = 0; r < t->rows; ++r)
      for (k = 0; k < t->cols; ++k)
        s += (int32_t)f[(ptrdiff_t)r * t->f_row + (ptrdiff_t)k * t->f_col + (ptrdiff_t)c] *
             (int32_t)x[(ptrdiff_t)r * t->in_row + (ptrdiff_t)k * t->in_col + (ptrdiff_t)c];
    acc[c] = s;
  }
}
