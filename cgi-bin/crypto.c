/* crypto.c: the only file that talks to OpenSSL. */
#include "crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

int crypto_random_hex(char *out, size_t nbytes)
{
    unsigned char buf[64];
    out[0] = 0;
    if (nbytes > sizeof buf || RAND_bytes(buf, (int)nbytes) != 1) return -1;
    to_hex(buf, nbytes, out);
    return 0;
}

int crypto_sha256_hex(const char *s, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL) != 1 || len != 32) return -1;
    to_hex(md, len, out);
    return 0;
}

int crypto_keyed_hex(const char *secret, const char *label, const char *s, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    char msg[512];
    size_t ll = strlen(label), sl = strlen(s);
    if (ll + 1 + sl > sizeof msg) return -1;
    memcpy(msg, label, ll);
    msg[ll] = ':';
    memcpy(msg + ll + 1, s, sl);
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)msg, ll + 1 + sl, md, &len)
        || len != 32)
        return -1;
    to_hex(md, len, out);
    return 0;
}

int crypto_turn_password(const char *secret, const char *username, char *out, size_t outlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (outlen < 29) return -1;
    if (!HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)username,
              strlen(username), md, &len) || len != 20)
        return -1;
    EVP_EncodeBlock((unsigned char *)out, md, (int)len); /* 28 chars + NUL */
    return 0;
}
