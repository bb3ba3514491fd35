#include <stddef.h>

struct samples {
    long *values;
    size_t count;
};

long sample_at(const struct samples *s, size_t i) {
    long *values = s->values;
    if (i >= s->count)
        return 0;
    return *(values + i);
}
