/* check: the unit tests' assertions. Each test file's main calls RUN(test_fn) for its tests and
 * returns check_summary(); a failed CHECK prints file:line and the expression. */
#ifndef SSL_CHECK_H
#define SSL_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_failed;
static int check_count;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        check_count++;                                                                   \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
            check_failed++;                                                              \
        }                                                                                \
    } while (0)

/* |a - b| <= tol */
#define CHECK_NEAR(a, b, tol)                                                            \
    do {                                                                                 \
        double check_a_ = (a), check_b_ = (b);                                           \
        check_count++;                                                                   \
        if (!(fabs(check_a_ - check_b_) <= (tol))) {                                     \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.9g, %s = %.9g (tol %g)\n", \
                    __FILE__, __LINE__, #a, check_a_, #b, check_b_, (double)(tol));      \
            check_failed++;                                                              \
        }                                                                                \
    } while (0)

#define RUN(fn)                                                                          \
    do {                                                                                 \
        int before_ = check_failed;                                                      \
        fn();                                                                            \
        fprintf(stderr, "%s %s\n", check_failed == before_ ? "ok  " : "FAIL", #fn);      \
    } while (0)

static inline int check_summary(void)
{
    fprintf(stderr, "%d checks, %d failed\n", check_count, check_failed);
    return check_failed ? 1 : 0;
}

#endif
