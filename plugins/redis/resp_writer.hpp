// plugins/redis/resp_writer.hpp — appends Redis commands (RESP arrays of
// bulk strings) to a buffer, so that many commands can be sent in one
// write.
//
// Contract
//   Every argument is length-prefixed binary (`$len\r\n bytes \r\n`), never
//   formatted into command text, so it may hold any bytes. A bulk may be
//   written in pieces: header(total), then raw() pieces adding up to total,
//   then end(). The writer only appends to the string it was given (whose
//   capacity is reused between batches: no allocation once it is warm).
//   Not thread-safe; the caller holds whatever guards the buffer.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace micro::redis {

class RespWriter {
 public:
    explicit RespWriter(std::string& out) noexcept : out_(out), start_(out.size()) {}

    void array(std::size_t count) { line('*', count); }
    void bulk(std::string_view arg) {
        header(arg.size());
        out_.append(arg);
        end();
    }
    void bulk(std::int64_t number) {
        char digits[24];
        const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, number);
        (void)ec;  // 24 characters hold any 64-bit integer
        bulk(std::string_view(digits, static_cast<std::size_t>(end - digits)));
    }
    void header(std::size_t length) { line('$', length); }
    void raw(std::string_view piece) { out_.append(piece); }
    void end() { out_.append("\r\n", 2); }
    /// Bytes written through this writer so far.
    std::size_t written() const noexcept { return out_.size() - start_; }

 private:
    void line(char kind, std::size_t n) {
        char digits[24];
        digits[0] = kind;
        const auto [end, ec] = std::to_chars(digits + 1, digits + sizeof digits - 2, n);
        (void)ec;
        char* p = end;
        *p++ = '\r';
        *p++ = '\n';
        out_.append(digits, static_cast<std::size_t>(p - digits));
    }

    std::string& out_;
    std::size_t start_;
};

}  // namespace micro::redis
