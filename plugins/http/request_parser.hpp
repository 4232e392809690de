// plugins/http/request_parser.hpp — an HTTP/1.1 request parsed into storage
// that the connection keeps from one request to the next, so that a request
// allocates nothing once the buffers have grown to its size.
//
// Contract
//   Parsing: Beast's basic_parser<true> does the parsing, so its grammar,
//     limits (header_limit, body_limit), chunked bodies and errors are
//     exactly those of Beast's request_parser; this only records what it
//     reports.
//   ParsedRequest: the request line, every field in order (names
//     lowercased, duplicates kept) and the body. Its views stay valid until
//     the next request is parsed into it; fields are readable once the
//     header is complete (is_header_done), the body once the message is.
//   RequestParser: parses one request into the ParsedRequest it is given,
//     which it clears first. Beast's parsers do not restart: make a new one
//     per request (it does not allocate).
//   parsePlainRequest: the common request read without Beast (a third of
//     the cost): a complete HTTP/1.1 request of plain ASCII with a
//     Content-Length or no body. It accepts only what Beast accepts, and
//     fills ParsedRequest exactly as RequestParser would; anything else it
//     leaves to RequestParser.
//   Threads: none of its own; one connection's io thread uses both.
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace micro::http {

class ParsedRequest {
 public:
    struct Field {
        std::string_view name;  // lowercased
        std::string_view value;
    };

    boost::beast::http::verb method() const noexcept { return method_; }
    std::string_view methodText() const noexcept { return methodText_; }
    std::string_view target() const noexcept { return target_; }
    /// 11 for HTTP/1.1, 10 for HTTP/1.0.
    int version() const noexcept { return version_; }
    const std::vector<Field>& fields() const noexcept { return fields_; }
    /// The first field of that (lowercase) name, empty when there is none.
    std::string_view find(std::string_view lowercaseName) const noexcept;
    std::string_view body() const noexcept { return body_; }

 private:
    friend class RequestParser;
    friend std::size_t parsePlainRequest(std::string_view, std::size_t, std::uint64_t,
                                         ParsedRequest&, bool&);

    struct Span {
        std::uint32_t at = 0, size = 0;
    };
    struct FieldAt {
        Span name, value;
    };

    std::string_view view(Span s) const noexcept { return {text_.data() + s.at, s.size}; }
    Span append(std::string_view s, bool isName);
    void clear() noexcept;
    // Makes the views, once text_ has stopped growing.
    void headerDone();

    boost::beast::http::verb method_ = boost::beast::http::verb::unknown;
    Span methodAt_, targetAt_;
    int version_ = 11;
    // The request line and fields are copied here as they are reported (the
    // read buffer may move before the body is complete); the views in
    // fields_ are made once the header is, when text_ stops growing.
    std::string text_;
    std::vector<FieldAt> at_;
    std::vector<Field> fields_;
    std::string_view methodText_, target_;
    std::string body_;
};

/// Parses the request at the start of `in` when it is a complete, plain
/// HTTP/1.1 request (see Contract) within the limits; returns its size in
/// bytes and sets `keepAlive`. Returns 0, with `into` in no particular state,
/// for anything else: parse that with RequestParser.
std::size_t parsePlainRequest(std::string_view in, std::size_t headerLimit, std::uint64_t bodyLimit,
                              ParsedRequest& into, bool& keepAlive);

class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
    explicit RequestParser(ParsedRequest& into) noexcept : into_(into) { into_.clear(); }

 private:
    using error_code = boost::system::error_code;
    using string_view = boost::beast::string_view;

    void on_request_impl(boost::beast::http::verb method, string_view methodText,
                         string_view target, int version, error_code& ec) override;
    void on_response_impl(int, string_view, int, error_code&) override {}
    void on_field_impl(boost::beast::http::field known, string_view name, string_view value,
                       error_code& ec) override;
    void on_header_impl(error_code& ec) override;
    void on_body_init_impl(const boost::optional<std::uint64_t>& contentLength,
                           error_code& ec) override;
    std::size_t on_body_impl(string_view body, error_code& ec) override;
    void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override;
    void on_finish_impl(error_code&) override {}

    ParsedRequest& into_;
};

}  // namespace micro::http
