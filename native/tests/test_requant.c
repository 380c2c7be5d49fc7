/* Requantization arithmetic against known values (gemmlowp / TFLite semantics), including
   the saturating and rounding corner cases. Ends with one line a script can read. */
#include <stdio.h>

#include "pe_kernel.h"

static int passed, failed;

#define EXPECT_EQ(got, want)                                                                \
  do {                                                                                      \
    long long g_ = (long long)(got), w_ = (long long)(want);                                \
    if (g_ == w_) {                                                                         \
      passed++;                                                                             \
    } else {                                                                                \
      failed++;                                                                             \
      printf("FAIL %s:%d: %s = %lld, want %lld\n", __FILE__, __LINE__, #got, g_, w_);       \
    }                                                                                       \
  } while (0)

static void test_doubling_high_mul(void) {
  /* the one overflow case saturates */
  EXPECT_EQ(pe_sat_rounding_doubling_high_mul(INT32_MIN, INT32_MIN), INT32_MAX);
  EXPECT_EQ(pe_sat_rounding_doubling_high_mul(INT32_MIN, INT32_MAX), -2147483647);
  EXPECT_EQ(pe_sat_rounding_doubling_high_mul(INT32_MAX, INT32_MAX), 2147483646);
  /* 1 * 0.5 = 0.5: a tie rounds up */
  EXPECT_EQ(pe_sat_rounding_doubling_high_mul(1, 1 << 30), 1);
  /* -1 * 0.5 = -0.5: the negative tie also rounds up (toward +inf), to 0 */
  EXPECT_EQ(pe_sat_rounding_doubling_high_mul(-1, 1 << 30), 0);
  EXPECT_EQ(pe_sat_rounding_doubling_high_mul(-3, 1 << 30), -1);
  EXPECT_EQ(pe_sat_rounding_doubling_high_mul(1 << 30, 1 << 30), 1 << 29);
  EXPECT_EQ(pe_sat_rounding_doubling_high_mul(0, INT32_MIN), 0);
}

static void test_rounding_divide_by_pot(void) {
  /* ties round away from zero */
  EXPECT_EQ(pe_rounding_divide_by_pot(5, 1), 3);
  EXPECT_EQ(pe_rounding_divide_by_pot(-5, 1), -3);
  EXPECT_EQ(pe_rounding_divide_by_pot(3, 1), 2);
  EXPECT_EQ(pe_rounding_divide_by_pot(-3, 1), -2);
  EXPECT_EQ(pe_rounding_divide_by_pot(4, 1), 2);
  EXPECT_EQ(pe_rounding_divide_by_pot(6, 2), 2);
  EXPECT_EQ(pe_rounding_divide_by_pot(-6, 2), -2);
  EXPECT_EQ(pe_rounding_divide_by_pot(-5, 2), -1);
  EXPECT_EQ(pe_rounding_divide_by_pot(7, 2), 2);
  EXPECT_EQ(pe_rounding_divide_by_pot(12345, 0), 12345);
  EXPECT_EQ(pe_rounding_divide_by_pot(INT32_MAX, 31), 1);
  EXPECT_EQ(pe_rounding_divide_by_pot(INT32_MIN, 31), -1);
  EXPECT_EQ(pe_rounding_divide_by_pot(-1, 31), 0);
}

static void test_mbqm(void) {
  static const struct {
    int32_t x, mult, shift, want;
  } cases[] = {
      {100, 1073741824, 0, 50},
      {101, 1073741824, 0, 51},
      {-101, 1073741824, 0, -50},
      {-100, 1073741824, 0, -50},
      {12345, 1518500250, -3, 1091},
      {-12345, 1518500250, -3, -1091},
      {2147483647, 2147483647, 0, 2147483646},
      {-2147483648, 2147483647, 0, -2147483647},
      {1000, 1073741824, 5, 16000},
      {7, 1073741824, -1, 2},
      {-7, 1073741824, -1, -2},
      /* 3 * 0.125 = 0.375 becomes 1: the two roundings of TFLite's default build */
      {3, 1073741824, -2, 1},
      {-3, 1073741824, -2, 0},
      {123456789, 2004318071, -31, 0},
  };
  size_t i;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i)
    EXPECT_EQ(pe_mbqm(cases[i].x, cases[i].mult, cases[i].shift), cases[i].want);
  /* a left shift that overflows int32 wraps as TFLite's `x * (1 << shift)` does on two's complement */
  EXPECT_EQ(pe_mbqm(1 << 30, 1 << 30, 2), 0);
  EXPECT_EQ(pe_mbqm_smaller_than_one(100, 1 << 30, -1), 25);
  EXPECT_EQ(pe_mbqm_greater_than_one(100, 1 << 30, 2), 200);
}

static void test_mbqm64(void) {
  /* multiplier reduced to 16 bits with rounding, then one rounding shift */
  EXPECT_EQ(pe_mbqm64(100, 1 << 30, 0), 50);
  EXPECT_EQ(pe_mbqm64(101, 1 << 30, 0), 51);
  EXPECT_EQ(pe_mbqm64(-101, 1 << 30, 0), -50); /* (-101*16384 + 16384) >> 15 = -50 */
  EXPECT_EQ(pe_mbqm64(-103, 1 << 30, 0), -51);
  EXPECT_EQ(pe_mbqm64((int64_t)1 << 40, 1 << 30, -10), 1 << 29);
  /* multipliers >= 0x7FFF0000 saturate the reduced multiplier at 0x7FFF */
  EXPECT_EQ(pe_mbqm64(1 << 20, 0x7FFFFFFF, 0), 1048544);
  EXPECT_EQ(pe_mbqm64(-((int64_t)1 << 46), 1 << 30, -31), -16384);
  /* out-of-contract inputs (a hostile int64 bias) are clamped to +-(2^48 - 1): no int64 overflow */
  EXPECT_EQ(pe_mbqm64(INT64_MAX, 1 << 30, -31), 65536);
  EXPECT_EQ(pe_mbqm64(INT64_MIN, 1 << 30, -31), -65536);
}

static void test_clamp_and_crc(void) {
  EXPECT_EQ(pe_clamp(200, -128, 127), 127);
  EXPECT_EQ(pe_clamp(-200, -128, 127), -128);
  EXPECT_EQ(pe_clamp(5, -128, 127), 5);
  EXPECT_EQ(pe_crc32("123456789", 9), 0xCBF43926u);
  EXPECT_EQ(pe_crc32("", 0), 0);
}

static void test_blob_rejects_garbage(void) {
  static uint8_t buf[256] __attribute__((aligned(16)));
  pe_model m;
  EXPECT_EQ(pe_model_init(&m, buf, 10), PE_ERR_TRUNCATED);
  EXPECT_EQ(pe_model_init(&m, buf, sizeof(buf)), PE_ERR_BAD_MAGIC);
  EXPECT_EQ(pe_model_init(&m, buf + 1, 200), PE_ERR_ALIGNMENT);
  EXPECT_EQ(pe_model_init(&m, NULL, 0), PE_ERR_TRUNCATED);
}

int main(void) {
  test_doubling_high_mul();
  test_rounding_divide_by_pot();
  test_mbqm();
  test_mbqm64();
  test_clamp_and_crc();
  test_blob_rejects_garbage();
  printf("%d passed, %d failed\n", passed, failed);
  if (failed == 0) printf("~~~ALL TESTS PASSED~~~\n");
  return failed == 0 ? 0 : 1;
}
