/* augment: the rules of ssl-augment. A training table (labelled rows y >= 0, unlabelled y = -1)
 * becomes the labelled rows plus new ones, each marked by origin (0 real, 1 generated, 2 pseudo)
 * and weighted by w, so that an ordinary classifier (ssl-fit) can train on the result.
 *
 * Pseudo-labels (self-training). A classifier gives p(y|x) for every unlabelled row; a row is
 * confident when max_k p_k >= threshold (compared in float32, as p is stored), and takes the label
 * argmax_k p_k. A cap then limits each class: per_class N keeps at most N rows per class; balance
 * keeps the same count in every class, the smallest class's count among the confident rows (or N
 * when N is smaller). Capping keeps a class's most confident rows (ties: the earlier row).
 * With rounds R > 1 the selection is iterated:
 * round 1 labels with the given classifier; round r >= 2 trains a fresh MLP (round_cfg, seed +
 * r - 1) on the labelled rows plus round r-1's pseudo rows (weighted), and re-labels EVERY
 * unlabelled row from scratch (a row may gain, lose or change its pseudo-label). The last round's
 * selection is the output.
 *
 * Generated rows. A class-conditional generator (M2, conditional GAN) makes per_class rows of each
 * class; an M1 with jitter > 0 decodes mu(x) + jitter * eps for per_row copies of each labelled row
 * and keeps its label; an unconditional generator (M1 without jitter, unconditional GAN) makes
 * per_class * K rows labelled by the labeller's argmax. ratio R > 0 overrides these counts: R times
 * the real labelled rows in all, shared in proportion to the classes' (or rows') real counts by
 * largest remainders. A filter classifier then drops the generated rows whose argmax differs from
 * their label or whose p of that label is below filter_threshold.
 *
 * Output rows: the input rows that are labelled or pseudo-labelled (and, with keep_unlabelled, the
 * others with y = -1), in input order, then the generated rows (other tensors zero, id -1).
 * Real rows keep an existing w (else 1) and origin (else 0); generated and pseudo rows get
 * w = weight. */
#ifndef SSL_AUGMENT_H
#define SSL_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "classifier.h"
#include "error.h"
#include "generator.h"
#include "mlp.h"
#include "stream.h"
#include "trainlog.h"

enum { AUGMENT_REAL = 0, AUGMENT_GENERATED = 1, AUGMENT_PSEUDO = 2 };
#define AUGMENT_MAX_ROUNDS 64
#define AUGMENT_META_ORIGINS "origin_names"   /* ["real", "generated", "pseudo"] */

/* ---- the selection rules (pure functions) ---------------------------------------------------- */

/* label[i] = argmax_k p_i (the lower class on ties) when max p_i >= threshold, else -1;
 * conf[i] = max p_i. p (n, K). Returns the number of confident rows. */
size_t augment_confident(const float *p, size_t n, int K, double threshold, int *label, float *conf);
/* counts[k] = rows with label k (labels < 0 ignored). Returns the rows counted. */
size_t augment_class_counts(const int *label, size_t n, int K, size_t *counts);
/* The per-class cap: per_class (0 = none); with balance, the smallest count (capped by per_class).
 * SIZE_MAX = no cap. */
size_t augment_cap_for(const size_t *counts, int K, int balance, size_t per_class);
/* Keeps at most cap rows of each class, the most confident (ties: lower index); the others get
 * label -1. Returns the rows kept, or -1 (out of memory). */
long augment_cap(int *label, const float *conf, size_t n, int K, size_t cap, error *e);
/* The whole rule: confident, then capped. counts (K) receives the kept rows per class. */
long augment_select(const float *p, size_t n, int K, double threshold, int balance, size_t per_class, int *label,
                    size_t *counts, error *e);

/* round(ratio * real), at least 0. */
size_t augment_ratio_rows(double ratio, size_t real);
/* Splits total into m shares out (m) in proportion to weight (m), the rounding to the largest
 * remainders (ties: the lower index). weight NULL or all 0: equal shares. -1 if out of memory. */
int augment_shares(size_t total, const size_t *weight, size_t m, size_t *out, error *e);
/* Sets label[i] = -1 where argmax p_i != label[i] or p_i[label[i]] < threshold. Returns the rows kept. */
size_t augment_filter(const float *p, int *label, size_t n, int K, double threshold);

/* How two selections of the same rows differ (labels < 0 = not selected). */
typedef struct augment_diff {
    size_t added, removed, relabelled, same;
} augment_diff;
augment_diff augment_compare(const int *prev, const int *cur, size_t n);

/* ---- the whole stage -------------------------------------------------------------------------- */

typedef struct augment_opts {
    classifier *pseudo;          /* NULL: no pseudo-labels (unless pseudo_p) */
    int pseudo_p;                /* 1: round 1's pseudo-labels from the input's own p (f32, K per row,
                                  * e.g. ssl-graph's) instead of a classifier */
    double threshold;            /* in (0, 1] */
    int balance;
    size_t per_class;            /* pseudo cap, and generated rows per class (0: see defaults) */
    int rounds;                  /* >= 1 */
    mlp_config round_cfg;        /* the MLP of rounds >= 2 (its seed is the base) */
    generator *gen;              /* NULL: no generated rows */
    classifier *labeller;        /* labels of an unconditional generator's rows */
    double jitter;               /* M1: sd of the perturbation of z (0: sample instead) */
    size_t per_row;              /* M1 jitter copies per labelled row (0: 1) */
    double ratio;                /* > 0: generated rows = ratio * real labelled rows */
    float weight;                /* w of generated and pseudo rows */
    classifier *filter;          /* NULL: keep every generated row */
    double filter_threshold;
    int keep_unlabelled;
    uint64_t seed;
} augment_opts;

void augment_opts_default(augment_opts *o);   /* threshold 0.9, rounds 1, weight 1, filter_threshold 0.5 */

typedef struct augment_round {
    size_t selected, smallest, largest;   /* pseudo rows; smallest and largest class counts */
    augment_diff diff;                    /* against the previous round (round 1: against none) */
} augment_round;

typedef struct augment_report {
    size_t labelled, unlabelled;          /* in the input */
    size_t pseudo, generated, filtered;   /* in the output; filtered = generated rows dropped */
    size_t unlabelled_kept;
    int rounds;
    augment_round round[AUGMENT_MAX_ROUNDS];
} augment_report;

/* Augments t in place (K classes; t has x f32 and y i32, the models already checked against its
 * width and K). Adds origin and w when absent, sets meta origin_names and augment (a summary).
 * log (or NULL) shows the training of rounds >= 2. */
int augment_run(stream_table *t, int K, const augment_opts *o, trainlog *log, augment_report *rep, error *e);

#endif
