// Config source conformance (light): every source reads a whole document and
// names its format.
#include "conformance.hpp"

#include <micro/config_source.hpp>

TEST_SUITE("config.source") {
    TEST_CASE("config.source: read returns a document with a non-empty format") {
        std::vector<micro::ConfigSource>& sources = conformance::runtime().configSources();
        REQUIRE_FALSE(sources.empty());
        for (std::size_t i = 0; i < sources.size(); ++i) {
            CAPTURE(i);
            micro::ConfigDocument doc;
            CHECK_CODE(doc = sources[i].read(), micro::Code::kOk);
            CHECK_FALSE(doc.format.empty());
        }
    }
}
