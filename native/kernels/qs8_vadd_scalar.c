/* Scalar twins of the int8 and int16 ADD/SUB microkernels (qs8_vadd.h). */
#include "pe_kernel.h"
#include "qs8_vadd.h"

void pe_qs8_vadd__scalar(size_t n, const int8_t *a, size_t a_inc, const int8_t *b, size_t b_inc, int8_t *out,
                         const pe_qs8_vadd_params *p) {
  size_t i;
  for (i = 0; i < n; ++i) {
    const int32_t x = a[i * a_inc], y = b[i * b_inc];
    const int32_t s1 = pe_mbqm_smaller_than_one(pe_shl32(x + p->a_offset, p->left_shift), p->a_mult, p->a_shift);
    const int32_t s2 = pe_mbqm_smaller_than_one(pe_shl32(y + p->b_offset, p->left_shift), p->b_mult, p->b_shift);
    const int32_t raw = p->sign > 0 ? s1 + s2 : s1 - s2;
    int32_t r = pe_mbqm_smaller_than_one(raw, p->out_mult, p->out_shift) + p->out_offset;
    r = r < p->act_min ? p->act_min : (r > p->act_max ? p->act_max : r);
    out[i] = (int8_t)r;
  }
}

void pe_qs16_vadd__scalar(size_t n, const int16_t *a, size_t a_inc, const int16_t *b, size_t b_inc, int16_t *out,
                          const pe_qs8_vadd_params *p) {
  size_t i;
  for (i = 0; i < n; ++i) {
    const int32_t x = a[i * a_inc], y = b[i * b_inc];
    const int32_t s1 = pe_mbqm_smaller_than_one(pe_shl32(x + p->a_offset, p->left_shift), p->a_mult, p->a_shift);
    const int32_t s2 = pe_mbqm_smaller_than_one(pe_shl32(y + p->b_offset, p->left_shift), p->b_mult, p->b_shift);
    const int32_t raw = p->sign > 0 ? s1 + s2 : s1 - s2;
    int32_t r = pe_mbqm_smaller_than_one(raw, p->out_mult, p->out_shift) + p->out_offset;
    r = r < p->act_min ? p->act_min : (r > p->act_max ? p->act_max : r);
    out[i] = (int16_t)r;
  }
}
