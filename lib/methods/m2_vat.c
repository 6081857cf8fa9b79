/* m2_vat.c: M2's classifier q(y|x) as vat.h sees it, for virtual adversarial training and entropy
 * minimisation on the rows of each step. */
#include "m2.h"

#include <string.h>

#include "dist.h"

int m2_set_vat(m2 *m, const vat_config *c, error *e)
{
    vat_ws_free(&m->vws);
    m->vat = *c;
    if (!vat_active(c)) return 0;
    if (m->aux.kind != M2_PLAIN) return error_set(e, "VAT and entropy minimisation train M2's q(y|x), not the auxiliary models'");
    if (dist_size() > 1) return error_set(e, "VAT and entropy minimisation train in one process (no mpirun)");
    if (vat_ws_alloc(&m->vws, m->max_in, m->a.in, m->K, e) < 0) return -1;
    vat_config_put(c, m->info, 0);
    return 0;
}

static float *net_forward(void *ctx, const float *x, int B)
{
    m2 *m = ctx;
    m->vx = x, m->vrows = B;
    return dnet_forward(&m->cls, &m->p, x, B, B, NULL, NULL);
}

static void net_backward(void *ctx, float *dlogits, float *dx, int params)
{
    m2 *m = ctx;
    memcpy(dnet_dout(&m->cls), dlogits, (size_t)m->vrows * m->K * sizeof(float));
    if (params) dnet_backward(&m->cls, &m->p, dx, m->vx, m->vrows, m->vrows, NULL, NULL);
    else dnet_input_grad(&m->cls, &m->p, dx, m->vx, m->vrows, m->vrows, NULL, NULL);
}

vat_net m2_vat_net(m2 *m) { return (vat_net){m, m->a.in, m->K, net_forward, net_backward}; }

double m2_vat_loss(m2 *m, const float *x, int n, float alpha, rng *r)
{
    vat_net net = m2_vat_net(m);
    return vat_loss(&net, &m->vat, &m->vws, x, n, alpha, r);
}
