// Connection token verification (server/asio TokenVerifier, JWT HS256). The first byte picks:
//   even: the rest is a token as a client sends it (mostly refused before the claims)
//   odd:  the rest is `<header JSON>\n<claims JSON>`, signed here with the verifier's secret, so
//         the claims parsing is reached on every input
// Invariants: a refused token has a reason; a signed token whose signature is altered is
// refused; an accepted token's principal survives issue() -> verify() unchanged.
#include "FuzzSupport.h"

#include <switchboard/TopicFilter.h>
#include <switchboard/asio/TokenVerifier.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <string>

using namespace switchboard;
using namespace switchboard::asio;

namespace {

constexpr std::int64_t kNow = 1'700'000'000;
const std::string kSecret = "fuzz-secret";

std::string base64Url(std::string_view in)
{
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()),
                                  reinterpret_cast<const unsigned char *>(in.data()), int(in.size()));
    out.resize(std::size_t(n));
    while (!out.empty() && out.back() == '=')
        out.pop_back();
    std::replace(out.begin(), out.end(), '+', '-');
    std::replace(out.begin(), out.end(), '/', '_');
    return out;
}

std::string sign(std::string_view input)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), kSecret.data(), int(kSecret.size()), reinterpret_cast<const unsigned char *>(input.data()),
         input.size(), mac, &length);
    return base64Url(std::string_view(reinterpret_cast<const char *>(mac), length));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    if (size == 0)
        return 0;
    const TokenVerifier verifier(kSecret);
    const std::string_view rest = fuzzsupport::text(data + 1, size - 1);
    std::string token;
    if (data[0] % 2 == 0) {
        token = std::string(rest);
    } else {
        const auto nl = rest.find('\n');
        const std::string_view header = nl == std::string_view::npos ? std::string_view(R"({"alg":"HS256"})") : rest.substr(0, nl);
        const std::string_view claims = nl == std::string_view::npos ? rest : rest.substr(nl + 1);
        const std::string input = base64Url(header) + '.' + base64Url(claims);
        token = input + '.' + sign(input);
        // The same token with the first signature character changed is refused.
        std::string tampered = token;
        char &c = tampered[input.size() + 1];
        c = c == 'A' ? 'B' : 'A';
        const TokenCheck refused = verifier.verify(tampered, kNow);
        FUZZ_CHECK(!refused.valid && !refused.reason.empty());
    }
    const TokenCheck check = verifier.verify(token, kNow);
    if (!check.valid) {
        FUZZ_CHECK(!check.reason.empty());
        return 0;
    }
    FUZZ_CHECK(check.expiresAtMs == 0 || check.expiresAtMs > kNow * 1000);
    for (const auto &pattern : check.principal.channelPatterns)
        FUZZ_CHECK(!validateTopicFilter(pattern));

    TokenClaims claims;
    claims.subject = check.principal.userId;
    claims.infoJson = check.principal.userInfo;
    claims.channels = check.principal.channelPatterns;
    claims.expiresAt = check.expiresAtMs / 1000;
    const TokenCheck again = verifier.verify(verifier.issue(claims), kNow);
    FUZZ_CHECK(again.valid);
    FUZZ_CHECK(again.principal.userId == check.principal.userId);
    FUZZ_CHECK(again.principal.userInfo == check.principal.userInfo);
    FUZZ_CHECK(again.principal.channelPatterns == check.principal.channelPatterns);
    FUZZ_CHECK(again.expiresAtMs == check.expiresAtMs);
    return 0;
}
