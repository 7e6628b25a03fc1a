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

/* Decodes [s, s+n) into the string buffer at *cursor (advanced past its NUL); NULL on a bad
 * escape. All values share one buffer, as long as the command line: one allocation at boot. */
static char *decode(const char *s, size_t n, char **cursor) {
    char *out = *cursor, *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        int hi = i + 2 < n ? hex_digit(s[i + 1]) : -1;
        int lo = i + 2 < n ? hex_digit(s[i + 2]) : -1;
        if (hi < 0 || lo < 0)
            return NULL;
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *o = 0;
    *cursor = o + 1;
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

/* argv and envp are sized for every token at once (see cmdline_parse). */
static bool push(char **list, int *count, char *value) {
    if (*count >= MAX_ARGS) {
        kprintf("unikit: command line: more than %d arguments or environment entries\n", MAX_ARGS);
        return false;
    }
    list[(*count)++] = value;
    return true;
}

/* The keys, one table rather than a chain of comparisons: under TCG every distinct branch
 * taken at boot is code to translate, and a loop is translated once. */
enum kind { FLAG, STR, ARG, ENV, NUM, SEED };
static const struct key {
    char name[12];
    uint8_t kind;
    uint16_t at;   /* offsetof the field in struct boot_config */
} keys[] = {
#define AT(field) (uint16_t)offsetof(struct boot_config, field)
    {"prog", STR, AT(prog)}, {"arg", ARG, 0}, {"env", ENV, 0}, {"cwd", STR, AT(cwd)},
    {"tsc_khz", NUM, AT(tsc_khz)}, {"realtime_ns", NUM, AT(realtime_ns)}, {"seed", SEED, 0},
    {"ip", STR, AT(ip)}, {"gw", STR, AT(gw)}, {"dns", STR, AT(dns)},
    {"listen", STR, AT(listen)}, {"egress", STR, AT(egress)},
    {"verbose", FLAG, AT(verbose)}, {"strict", FLAG, AT(strict)}, {"fast", FLAG, AT(fast)},
    {"aslr", FLAG, AT(aslr)}, {"wx", FLAG, AT(wx)}, {"ro", FLAG, AT(ro)},
    {"execdata", FLAG, AT(execdata)}, {"control", FLAG, AT(control)}, {"trace", FLAG, AT(trace)},
    {"netpolicy", FLAG, AT(netpolicy)},
#undef AT
};

static bool token(const char *key, size_t klen, const char *val, size_t vlen, bool has_val,
                  struct boot_config *cfg, char **strings) {
    const struct key *k = keys;
    while (k < keys + ARRAY_LEN(keys) &&
           !((k->kind == FLAG) != has_val && klen < sizeof k->name && !k->name[klen] && !memcmp(key, k->name, klen)))
        k++;
    if (k == keys + ARRAY_LEN(keys)) {
        kprintf("unikit: command line: unknown %s '%.*s' ignored\n", has_val ? "key" : "flag", (int)klen, key);
        return true;
    }
    char *field = (char *)cfg + k->at;
    if (k->kind == FLAG)
        return *(bool *)field = true;
    char *v = decode(val, vlen, strings);
    if (!v) {
        kprintf("unikit: command line: bad percent-encoding in '%.*s'\n", (int)klen, key);
        return false;
    }
    switch (k->kind) {
    case STR:
        *(char **)field = v;
        return true;
    case ARG:
        return push(cfg->argv, &cfg->argc, v);
    case ENV:
        return push(cfg->envp, &cfg->envc, v);
    case NUM:
        if (!parse_u64(v, (uint64_t *)field)) {
            kprintf("unikit: command line: '%.*s' needs a number, got '%s'\n", (int)klen, key, v);
            return false;
        }
        break;
    default:   /* SEED: hex digits, taken as given (the host writes them); the value of c is
                * (c & 15) + 9 for a-f and A-F, c & 15 for 0-9, computed without a branch */
        for (int i = 0; i < 32 && v[2 * i] && v[2 * i + 1]; i++)
            cfg->seed[i] = (uint8_t)((((v[2 * i] & 15) + 9 * (v[2 * i] >> 6)) << 4) +
                                     (v[2 * i + 1] & 15) + 9 * (v[2 * i + 1] >> 6));
        cfg->have_seed = true;
    }
    return true;
}

bool cmdline_parse(const char *s, struct boot_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    /* One allocation for the decoded values (never longer than the line) and one for argv and
     * envp, sized by the tokens (at most MAX_ARGS each are taken, plus argv[0] and the NULLs). */
    size_t len = 0, tokens = 1;
    for (; s[len]; len++)
        tokens += s[len] == ' ';
    tokens = MIN(tokens, MAX_ARGS) + 2;
    char *strings = kmalloc(len + 1);
    cfg->argv = kzalloc(2 * tokens * sizeof(char *));
    if (!strings || !cfg->argv) {
        kprintf("unikit: command line: out of memory for the arguments; raise --mem\n");
        return false;
    }
    cfg->envp = cfg->argv + tokens;
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
                   cfg, &strings))
            return false;
    }
    if (!cfg->prog) {
        kprintf("unikit: command line: no prog= (which program to run)\n");
        return false;
    }
    if (cfg->argc == 0)
        cfg->argv[cfg->argc++] = cfg->prog;
    return true;
}
