#include <curl/curl.h>

int fetch(const char *url) {
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    return curl_easy_perform(c);
}
