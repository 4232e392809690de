// Shared by the codec tests: a fully populated Everything and error helpers.
#pragma once

#include <doctest/doctest.h>
#include <micro/codec.hpp>

#include <capnp/message.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include "test.capnp.h"

namespace codec_fixtures {

using micro::codec_test::Color;
using micro::codec_test::Everything;

inline void fillEverything(Everything::Builder e) {
    e.setText("héllo \"world\"\n\x01");
    const capnp::byte bytes[] = {0, 1, 2, 0xff, 0xfe};
    e.setData(capnp::Data::Reader(bytes, sizeof bytes));
    e.setFlag(true);
    e.setI8(-128);
    e.setI16(-32768);
    e.setI32(std::numeric_limits<std::int32_t>::min());
    e.setI64(-9007199254740993LL);  // not representable as a double
    e.setU8(255);
    e.setU16(65535);
    e.setU32(4294967295u);
    e.setU64(std::numeric_limits<std::uint64_t>::max());
    e.setF32(0.1f);
    e.setF64(-1.0e300);
    e.setColor(Color::BLUE);
    auto inner = e.initInner();
    inner.setLabel("in");
    inner.setCount(7);
    auto inners = e.initInners(2);
    inners[0].setLabel("a");
    inners[0].setCount(1);
    inners[1].setLabel("b");
    inners[1].setCount(2);
    auto tags = e.initTags(3);
    tags.set(0, "x");
    tags.set(1, "");
    tags.set(2, "z");
    auto numbers = e.initNumbers(2);
    numbers.set(0, std::numeric_limits<std::int64_t>::min());
    numbers.set(1, 42);
    auto matrix = e.initMatrix(2);
    auto row0 = matrix.init(0, 2);
    row0.set(0, 1);
    row0.set(1, 2);
    matrix.init(1, 0);
    auto colors = e.initColors(2);
    colors.set(0, Color::RED);
    colors.set(1, Color::GREEN);
    auto blobs = e.initBlobs(1);
    blobs.set(0, capnp::Data::Reader(bytes, 3));
    e.setName("union-name");
    e.getGrp().setA(-5);
    e.getGrp().setB("grp-b");
    e.getChoice().setY("why");
    e.setWithDefault(7);
}

/// Runs fn, requires it to throw micro::Error with `code` and returns the message.
inline std::string errorOf(const std::function<void()>& fn, micro::Code code) {
    try {
        fn();
    } catch (const micro::Error& e) {
        CHECK_MESSAGE(e.code() == code, e.describe());
        return e.what();
    } catch (const std::exception& e) {
        FAIL("not a micro::Error: " << e.what());
    }
    FAIL("no error thrown");
    return {};
}

}  // namespace codec_fixtures
