// micro/transport_common/byte_buffer.hpp — a growable byte buffer for the hot path.
//
// Contract: not thread-safe (its owner serializes access). Unlike
// std::vector it never zero-fills what it grows into, and it keeps its
// capacity across clear(), so a warm connection reuses one allocation per
// direction. Growth is geometric; release() gives memory back after an
// unusually large message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>

namespace micro::transport_common {

class ByteBuffer {
 public:
    ByteBuffer() = default;
    explicit ByteBuffer(std::size_t capacity) { reserve(capacity); }
    ByteBuffer(ByteBuffer&& other) noexcept { swap(other); }
    ByteBuffer& operator=(ByteBuffer&& other) noexcept {
        ByteBuffer(std::move(other)).swap(*this);
        return *this;
    }

    std::uint8_t* data() noexcept { return data_.get(); }
    const std::uint8_t* data() const noexcept { return data_.get(); }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return capacity_; }
    bool empty() const noexcept { return size_ == 0; }

    /// Make room for at least `capacity` bytes in total, keeping the content.
    void reserve(std::size_t capacity) {
        if (capacity <= capacity_) return;
        auto bigger = std::make_unique_for_overwrite<std::uint8_t[]>(capacity);
        if (size_ != 0) std::memcpy(bigger.get(), data_.get(), size_);
        data_ = std::move(bigger);
        capacity_ = capacity;
    }

    /// Extend the content by `n` uninitialized bytes; returns where they start.
    std::uint8_t* append(std::size_t n) {
        if (capacity_ - size_ < n) {
            std::size_t want = capacity_ < 4096 ? 4096 : capacity_ * 2;
            if (want < size_ + n) want = size_ + n;
            reserve(want);
        }
        std::uint8_t* at = data_.get() + size_;
        size_ += n;
        return at;
    }

    /// Count `n` more bytes written directly past size() (after reserve).
    void commit(std::size_t n) noexcept { size_ += n; }

    /// Drop the first `n` bytes, moving the rest to the front.
    void consume(std::size_t n) noexcept {
        if (n >= size_) {
            size_ = 0;
            return;
        }
        std::memmove(data_.get(), data_.get() + n, size_ - n);
        size_ -= n;
    }

    void clear() noexcept { size_ = 0; }

    /// Give the memory back when the buffer is empty and its capacity has
    /// grown past `keep` (the next append or reserve allocates again).
    void release(std::size_t keep) noexcept {
        if (size_ != 0 || capacity_ <= keep) return;
        data_.reset();
        capacity_ = 0;
    }

    void swap(ByteBuffer& other) noexcept {
        std::swap(data_, other.data_);
        std::swap(size_, other.size_);
        std::swap(capacity_, other.capacity_);
    }

 private:
    std::unique_ptr<std::uint8_t[]> data_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

}  // namespace micro::transport_common
