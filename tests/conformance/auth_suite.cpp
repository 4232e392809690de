// Auth conformance (light: drivers differ in what they check): accounts,
// tokens, and refusing an empty token.
#include "conformance.hpp"

#include <micro/auth.hpp>

#include <string>

using conformance::unique;
using micro::Code;

namespace {

micro::Auth& auth() { return conformance::runtime().auth(); }

}  // namespace

TEST_SUITE("auth") {
    TEST_CASE("auth: generate returns the stored account with the id asked for") {
        micro::Account in;
        in.id = unique("account");
        in.type = "user";
        in.scopes = {"read"};
        const micro::Account out = auth().generate(in, "secret-" + in.id);
        CHECK(out.id == in.id);
    }

    TEST_CASE("auth: a token for (id, secret) inspects back to the same account") {
        micro::Account in;
        in.id = unique("token-account");
        in.type = "service";
        const std::string secret = "secret-" + in.id;
        auth().generate(in, secret);
        const micro::Token token = auth().token(in.id, secret);
        CHECK_FALSE(token.accessToken.empty());
        const micro::Account inspected = auth().inspect(token.accessToken);
        CHECK(inspected.id == in.id);
    }

    TEST_CASE("auth: inspecting an empty token is UNAUTHENTICATED") {
        CHECK_CODE(auth().inspect(""), Code::kUnauthenticated);
    }
}
