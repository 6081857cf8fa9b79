/* gan_file.c: a GAN to and from a model file. */
#include "gan_impl.h"

#include <stdio.h>
#include <string.h>

#include "params.h"

/* ---- model files ---- */

static value *int_array(const int *v, int n)
{
    value *a = value_array();
    for (int i = 0; i < n; i++) value_push(a, value_int(v[i]));
    return a;
}

/* info[key] = spec, info[key "_image"] = the image shape (spec_from_info reads them back). */
static void spec_to_info(value *info, const char *key, const char *spec, const gan_arch *a)
{
    char ik[32];
    int img[3] = {a->img_c, a->img_h, a->img_w};
    snprintf(ik, sizeof ik, "%s_image", key);
    value_set(info, key, value_str(spec));
    value_set(info, ik, int_array(img, 3));
}

model_file *gan_save(const gan *m, error *e)
{
    const gan_arch *a = &m->a;
    model_file *f = model_file_new(GAN_KIND);
    if (!f) return error_set(e, "out of memory"), NULL;
    value_set(f->info, "features", value_int(a->features));
    value_set(f->info, "classes", value_int(a->classes));
    value_set(f->info, "d_hidden", int_array(a->d_hidden, a->nd));
    value_set(f->info, "g_hidden", int_array(a->g_hidden, a->ng));
    value_set(f->info, "noise_dim", value_int(a->noise_dim));
    value_set(f->info, "input_noise", value_float(a->input_noise));
    value_set(f->info, "hidden_noise", value_float(a->hidden_noise));
    value_set(f->info, "conditional", value_bool(a->conditional));
    value_set(f->info, "g_output", value_str(nn_act_name(a->g_out)));
    value_set(f->info, "ema", value_bool(a->ema));
    char spec[GAN_MAX_LAYERS * 24 + 48];
    if (a->nc) {   /* only then, so that an MLP D's model keeps its bytes */
        gan_conv_format(a, spec, sizeof spec);
        spec_to_info(f->info, "d_conv", spec, a);
        value_set(f->info, "d_pool", value_bool(a->pool));
    }
    if (a->ngc) {   /* likewise for an MLP G */
        gan_deconv_format(a, spec, sizeof spec);
        spec_to_info(f->info, "g_deconv", spec, a);
    }
    if (nn_params_save(&m->d, f, e) || nn_params_save(&m->g, f, e) || nn_params_save(&m->stat, f, e) ||
        (a->ema && nn_params_save(&m->avg, f, e))) {
        model_file_free(f);
        return NULL;
    }
    return f;
}

/* An int list from info[key] into out (at most GAN_MAX_LAYERS); its length or -1. */
static int info_ints(const value *info, const char *key, int *out, error *e)
{
    const value *v = value_get(info, key);
    if (!v || v->kind != VALUE_ARRAY || v->n > GAN_MAX_LAYERS)
        return error_set(e, "model info: '%s' is missing or not a list of layer sizes", key);
    for (size_t i = 0; i < v->n; i++) out[i] = value_size(v->items[i]);
    return (int)v->n;
}

/* Conv layers from info[key] (a spec parse() reads: "d_conv", "g_deconv") and the image they see
 * or make from info[key "_image"]; nothing when info has no key. */
static int spec_from_info(const value *info, const char *key, int (*parse)(gan_arch *, const char *, error *),
                          gan_arch *a, error *e)
{
    const char *spec = value_get_str(info, key, NULL);
    char ik[32];
    int img[GAN_MAX_LAYERS], k;
    snprintf(ik, sizeof ik, "%s_image", key);
    if (!spec) return 0;
    if (parse(a, spec, e)) return error_prefix(e, "model info");
    if ((k = info_ints(info, ik, img, e)) < 0) return -1;
    if (k != 3) return error_set(e, "model info: '%s' is not [channels, height, width]", ik);
    a->img_c = img[0], a->img_h = img[1], a->img_w = img[2];
    return 0;
}

gan *gan_load(const model_file *f, error *e)
{
    gan_arch a;
    memset(&a, 0, sizeof a);
    const value *info = f->info;
    a.features = value_get_size(info, "features");
    a.classes = value_get_size(info, "classes");
    a.noise_dim = value_get_size(info, "noise_dim");
    a.input_noise = (float)value_get_num(info, "input_noise", 0);
    a.hidden_noise = (float)value_get_num(info, "hidden_noise", 0);
    a.conditional = value_get_num(info, "conditional", 0) != 0;
    a.ema = value_get_num(info, "ema", 0) != 0;
    if ((a.nd = info_ints(info, "d_hidden", a.d_hidden, e)) < 0 || (a.ng = info_ints(info, "g_hidden", a.g_hidden, e)) < 0)
        return NULL;
    if (nn_act_parse(value_get_str(info, "g_output", "sigmoid"), &a.g_out))
        return error_set(e, "model info: unknown g_output"), NULL;
    if (spec_from_info(info, "d_conv", gan_conv_parse, &a, e) || spec_from_info(info, "g_deconv", gan_deconv_parse, &a, e))
        return NULL;
    a.pool = value_get_num(info, "d_pool", 0) != 0;
    gan *m = gan_build(&a, f, e);
    if (!m) return error_prefix(e, "model"), NULL;
    if (nn_params_load(&m->d, f, e) || nn_params_load(&m->g, f, e) || nn_params_load(&m->stat, f, e) ||
        (a.ema && nn_params_load(&m->avg, f, e))) {
        gan_free(m);
        return NULL;
    }
    return m;
}
