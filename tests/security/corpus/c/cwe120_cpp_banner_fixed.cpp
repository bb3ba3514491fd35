#include <cstdio>

class Banner {
public:
    void set(const char *text) { std::snprintf(text_, sizeof(text_), "%s", text); }
    const char *text() const { return text_; }

private:
    char text_[64];
};
