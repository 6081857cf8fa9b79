/* imageops: shifts fill with zeros and move the content, a flip twice is the identity, drawn
 * shifts cover [-s, s]^2 uniformly, cutout blanks its square clipped to the image, views are the rows
 * themselves when nothing is asked, and jittered values stay in their range. */
#include <string.h>

#include "check.h"
#include "imageops.h"

/* Shifts of a 3 x 4 image: content moves, zeros fill in, no shift is a copy. */
static void test_shift(void)
{
    float src[12], dst[12];
    for (int i = 0; i < 12; i++) src[i] = (float)(i + 1);
    image_shift(dst, src, 3, 4, 0, 0);
    CHECK(memcmp(dst, src, sizeof src) == 0);
    image_shift(dst, src, 3, 4, 1, -1);   /* down 1, left 1 */
    const float want[12] = {0, 0, 0, 0, 2, 3, 4, 0, 6, 7, 8, 0};
    CHECK(memcmp(dst, want, sizeof want) == 0);
    image_shift(dst, src, 3, 4, -2, 3);   /* up 2, right 3 */
    const float want2[12] = {0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK(memcmp(dst, want2, sizeof want2) == 0);
}

static void test_flip(void)
{
    float x[6] = {1, 2, 3, 4, 5, 6}, orig[6];
    memcpy(orig, x, sizeof x);
    image_flip(x, 2, 3);
    const float want[6] = {3, 2, 1, 6, 5, 4};
    CHECK(memcmp(x, want, sizeof want) == 0);
    image_flip(x, 2, 3);
    CHECK(memcmp(x, orig, sizeof orig) == 0);
}

static void test_draw_shift(void)
{
    rng r;
    rng_seed(&r, 3);
    int counts[5][5] = {{0}};
    for (int i = 0; i < 25000; i++) {
        int dy, dx;
        image_draw_shift(&r, 2, &dy, &dx);
        CHECK(dy >= -2 && dy <= 2 && dx >= -2 && dx <= 2);
        if (dy >= -2 && dy <= 2 && dx >= -2 && dx <= 2) counts[dy + 2][dx + 2]++;
    }
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++) CHECK_NEAR(counts[a][b], 1000, 150);
    int dy, dx;
    image_draw_shift(&r, 0, &dy, &dx);
    CHECK(dy == 0 && dx == 0);
}

/* A 3 x 3 square centred at (1, 2) of a 3 x 4 image, and one hanging over the top-left corner. */
static void test_cutout(void)
{
    float x[12];
    for (int i = 0; i < 12; i++) x[i] = 1;
    image_cutout(x, 3, 4, 1, 2, 3);
    const float want[12] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0};
    CHECK(memcmp(x, want, sizeof want) == 0);
    for (int i = 0; i < 12; i++) x[i] = 1;
    image_cutout(x, 3, 4, 0, 0, 2);   /* rows and columns -1..0: only pixel (0, 0) */
    CHECK(x[0] == 0);
    for (int i = 1; i < 12; i++) CHECK(x[i] == 1);
}

/* Without any augmentation a view is the row; with a cutout of the whole image it is all zeros. */
static void test_views(void)
{
    rng r;
    rng_seed(&r, 4);
    float x[24], out[24];
    for (int i = 0; i < 24; i++) x[i] = (float)(i + 1);
    image_views none = {0, 0, 0, 0, 0, 0, 0, 0};
    image_draw_views(&none, out, x, 2, 12, &r);
    CHECK(memcmp(out, x, sizeof x) == 0);
    image_views plain = {3, 4, 0, 0, 0, 0, 0, 0};
    image_draw_views(&plain, out, x, 2, 12, &r);
    CHECK(memcmp(out, x, sizeof x) == 0);
    image_views cut = {3, 4, 1, 1, 8, 0, 0, 0};
    image_draw_views(&cut, out, x, 2, 12, &r);
    for (int i = 0; i < 24; i++) CHECK(out[i] == 0);
    image_views jit = {3, 4, 0, 0, 0, 0.5f, 1, 24};   /* a x + b within [1, 24], and not all unchanged */
    image_draw_views(&jit, out, x, 2, 12, &r);
    int moved = 0;
    for (int i = 0; i < 24; i++) {
        CHECK(out[i] >= 1 && out[i] <= 24);
        moved += out[i] != x[i];
    }
    CHECK(moved > 0);
}

int main(void)
{
    RUN(test_shift);
    RUN(test_flip);
    RUN(test_draw_shift);
    RUN(test_cutout);
    RUN(test_views);
    return check_summary();
}
