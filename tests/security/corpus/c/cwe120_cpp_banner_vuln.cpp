#include <cstring>

class Banner {
public:
    void set(const char *text) { std::strcpy(text_, text); }
    const char *text() const { return text_; }

private:
    char text_[64];
};
