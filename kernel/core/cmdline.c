/* Parses the kernel command line: space-separated key=value tokens, values percent-encoded. */
#include "cmdline.h"

static int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes [s, s+n) into a new string; NULL on a bad escape or no memory. */
static char *decode(const char *s, size_t n) {
    char *out = kmalloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        int hi = i + 2 < n ? hex_digit(s[i + 1]) : -1;
        int lo = i + 2 < n ? hex_digit(s[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            kfree(out);
            return NULL;
        }
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *o = 0;
    return out;
}

static bool parse_u64(const char *s, uint64_t *v) {
    if (!*s)
        return false;
    uint64_t r = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        r = r * 10 + (uint64_t)(*s - '0');
    }
    *v = r;
    return true;
}

static bool push(char ***list, int *count, char *value) {
    if (*count >= MAX_ARGS) {
        kprintf("unikit: command line: more than %d arguments or environment entries\n", MAX_ARGS);
        return false;
    }
    char **grown = krealloc(*list, sizeof(char *) * (size_t)(*count + 2));
    if (!grown) {
        kprintf("unikit: command line: out of memory for the arguments; raise --mem\n");
        return false;
    }
    grown[(*count)++] = value;
    grown[*count] = NULL;
    *list = grown;
    return true;
}

static bool token(const char *key, size_t klen, const char *val, size_t vlen, bool has_val,
                  struct boot_config *cfg) {
#define IS(k) (klen == sizeof(k) - 1 && !memcmp(key, k, klen))
    if (!has_val) {
        if (IS("verbose"))
            return cfg->verbose = true;
        if (IS("strict"))
            return cfg->strict = true;
        if (IS("fast"))
            return cfg->fast = true;
        if (IS("aslr"))
            return cfg->aslr = true;
        if (IS("wx"))
            return cfg->wx = true;
        if (IS("ro"))
            return cfg->ro = true;
        if (IS("execdata"))
            return cfg->execdata = true;
        if (IS("control"))
            return cfg->control = true;
        if (IS("trace"))
            return cfg->trace = true;
        if (IS("netpolicy"))
            return cfg->netpolicy = true;
        kprintf("unikit: command line: unknown flag '%.*s' ignored\n", (int)klen, key);
        return true;
    }
    char *v = decode(val, vlen);
    if (!v) {
        kprintf("unikit: command line: bad percent-encoding in '%.*s'\n", (int)klen, key);
        return false;
    }
    if (IS("prog"))
        cfg->prog = v;
    else if (IS("arg"))
        return push(&cfg->argv, &cfg->argc, v);
    else if (IS("env"))
        return push(&cfg->envp, &cfg->envc, v);
    else if (IS("cwd"))
        cfg->cwd = v;
    else if (IS("ip"))
        cfg->ip = v;
    else if (IS("gw"))
        cfg->gw = v;
    else if (IS("dns"))
        cfg->dns = v;
    else if (IS("listen"))
        cfg->listen = v;
    else if (IS("egress"))
        cfg->egress = v;
    else if (IS("tsc_khz") || IS("realtime_ns")) {
        if (!parse_u64(v, IS("tsc_khz") ? &cfg->tsc_khz : &cfg->realtime_ns)) {
            kprintf("unikit: command line: '%.*s' needs a number, got '%s'\n", (int)klen, key, v);
            return false;
        }
        kfree(v);
    } else if (IS("seed")) {
        for (int i = 0; i < 32 && v[2 * i] && v[2 * i + 1]; i++)
            cfg->seed[i] = (uint8_t)(hex_digit(v[2 * i]) * 16 + hex_digit(v[2 * i + 1]));
        cfg->have_seed = true;
        kfree(v);
    } else {
        kprintf("unikit: command line: unknown key '%.*s' ignored\n", (int)klen, key);
        kfree(v);
    }
    return true;
#undef IS
}

bool cmdline_parse(const char *s, struct boot_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    if (!push(&cfg->argv, &cfg->argc, NULL) || !push(&cfg->envp, &cfg->envc, NULL))
        return false;
    cfg->argc = cfg->envc = 0;
    while (*s) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        const char *start = s;
        while (*s && *s != ' ')
            s++;
        const char *eq = start;
        while (eq < s && *eq != '=')
            eq++;
        bool has_val = eq < s;
        if (!token(start, (size_t)(eq - start), has_val ? eq + 1 : s, has_val ? (size_t)(s - eq - 1) : 0, has_val,
                   cfg))
            return false;
    }
    if (!cfg->prog) {
        kprintf("unikit: command line: no prog= (which program to run)\n");
        return false;
    }
    if (cfg->argc == 0 && !push(&cfg->argv, &cfg->argc, cfg->prog))
        return false;
    return true;
}
