/* gan_loss.c: the GAN's losses and their gradients w.r.t. the logits or features. */
#include "gan_impl.h"

#include <math.h>
#include <string.h>

static inline double softplus(double x) { return fmax(x, 0.0) + log1p(exp(-fabs(x))); }
static inline double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

/* log-sum-exp of a row and the index of its maximum */
static double row_lse(const float *l, int K, int *arg)
{
    int k0 = 0;
    for (int k = 1; k < K; k++)
        if (l[k] > l[k0]) k0 = k;
    double s = 0;
    for (int k = 0; k < K; k++) s += exp((double)l[k] - l[k0]);
    if (arg) *arg = k0;
    return l[k0] + log(s);
}

/* dl = c softmax(l) for one row, lse its log-sum-exp (dl may equal l) */
static void scaled_softmax(float *dl, const float *l, int K, double lse, double c)
{
    for (int k = 0; k < K; k++) dl[k] = (float)(c * exp((double)l[k] - lse));
}

double gan_loss_lab(float *dl, const float *l, const int32_t *y, int n, int K, float scale, int *correct)
{
    double loss = 0;
    for (int i = 0; i < n; i++) {
        const float *li = l + (size_t)i * K;
        float *di = dl + (size_t)i * K;
        int arg;
        double lse = row_lse(li, K, &arg);
        loss += lse - li[y[i]];
        if (correct) *correct += arg == y[i];
        scaled_softmax(di, li, K, lse, scale);
        di[y[i]] -= scale;
    }
    return loss;
}

double gan_loss_unl(float *dl, const float *l, int n, int K, int fake, float scale, int *correct)
{
    double loss = 0;
    for (int i = 0; i < n; i++) {
        const float *li = l + (size_t)i * K;
        double lse = row_lse(li, K, NULL);
        /* real: softplus(-lse) = -log D;  fake: softplus(lse) = -log(1 - D) */
        loss += fake ? softplus(lse) : softplus(-lse);
        if (correct) *correct += fake ? lse < 0 : lse > 0;
        double c = fake ? sigmoid(lse) : -sigmoid(-lse);
        scaled_softmax(dl + (size_t)i * K, li, K, lse, c * scale);
    }
    return loss;
}

double gan_loss_ent(float *dl, const float *l, int n, int K, float scale)
{
    double loss = 0;
    for (int i = 0; i < n; i++) {
        const float *li = l + (size_t)i * K;
        double lse = row_lse(li, K, NULL), h = 0;
        for (int k = 0; k < K; k++) {
            double lp = (double)li[k] - lse;
            h -= exp(lp) * lp;
        }
        loss += h;
        /* dH/dl_k = -p_k (log p_k + H) */
        for (int k = 0; k < K; k++) {
            double lp = (double)li[k] - lse;
            dl[(size_t)i * K + k] -= (float)(scale * exp(lp) * (lp + h));
        }
    }
    return loss;
}

/* softmax(l)_k from the row's log-sum-exp */
static double soft_k(const float *l, int k, double lse) { return exp((double)l[k] - lse); }

double gan_loss_cons(float *da, float *db, const float *la, const float *lb, int n, int K, float scale)
{
    double loss = 0;
    for (int i = 0; i < n; i++) {
        const float *a = la + (size_t)i * K, *b = lb + (size_t)i * K;
        double lsa = row_lse(a, K, NULL), lsb = row_lse(b, K, NULL), pd = 0, qd = 0;
        for (int k = 0; k < K; k++) {
            double p = soft_k(a, k, lsa), q = soft_k(b, k, lsb);
            loss += (p - q) * (p - q);
            pd += p * (p - q);
            qd += q * (p - q);
        }
        /* d/da_k = 2 p_k ((p_k - q_k) - sum_j p_j (p_j - q_j)); d/db_k likewise with q, negated */
        for (int k = 0; k < K; k++) {
            double p = soft_k(a, k, lsa), q = soft_k(b, k, lsb);
            da[(size_t)i * K + k] += (float)(2 * scale * p * ((p - q) - pd));
            db[(size_t)i * K + k] -= (float)(2 * scale * q * ((p - q) - qd));
        }
    }
    return loss;
}

/* s (C) = the column sums of a (n, C) */
void gan_col_sums(float *s, const float *a, int n, int C)
{
    memset(s, 0, (size_t)C * sizeof(float));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < C; j++) s[j] += a[(size_t)i * C + j];
}

/* The feature matching loss from sums (2C: the column sums of nf generated rows' features, then of
 * nr real rows'), and df (n, C) its gradient w.r.t. n generated rows (every row's is the same; n <
 * nf for a share of the rows). sums is overwritten. */
double gan_fm_from_sums(float *df, int n, int nf, int nr, int C, float *sums)
{
    float *mf = sums, *mr = sums + C;
    double loss = 0;
    for (int j = 0; j < C; j++) {
        mf[j] = mf[j] / nf - mr[j] / nr;   /* mf now holds the difference */
        loss += (double)mf[j] * mf[j];
    }
    float c = 2.0f / ((float)C * nf);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < C; j++) df[(size_t)i * C + j] = c * mf[j];
    return loss / C;
}

double gan_loss_fm(float *df, const float *ff, int nf, const float *fr, int nr, int C, float *mean)
{
    gan_col_sums(mean, ff, nf, C);
    gan_col_sums(mean + C, fr, nr, C);
    return gan_fm_from_sums(df, nf, nf, nr, C, mean);
}

#define MS_EPS 1e-3

double gan_loss_ms(float *dx, const float *x, const float *z, int n, int F, int Z, int zstride, float weight)
{
    int np = n / 2;
    double loss = 0;
    for (int p = 0; p < np; p++) {
        const float *x1 = x + (size_t)2 * p * F, *x2 = x1 + F;
        const float *z1 = z + (size_t)2 * p * zstride, *z2 = z1 + zstride;
        double dz = 0, dd = 0;
        for (int j = 0; j < Z; j++) dz += fabs((double)z1[j] - z2[j]);
        for (int k = 0; k < F; k++) dd += fabs((double)x1[k] - x2[k]);
        dz /= Z, dd /= F;
        double q = dd + MS_EPS;
        loss += dz / q;
        /* d(dz / q)/d x1_k = -dz / q^2 sign(x1_k - x2_k) / F, the opposite for x2 */
        float c = (float)(weight / np * (-dz / (q * q)) / F);
        float *d1 = dx + (size_t)2 * p * F, *d2 = d1 + F;
        for (int k = 0; k < F; k++) {
            float g = x1[k] > x2[k] ? c : x1[k] < x2[k] ? -c : 0.0f;
            d1[k] += g;
            d2[k] -= g;
        }
    }
    return np ? weight * loss / np : 0;
}
