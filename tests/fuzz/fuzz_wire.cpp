// libFuzzer target: the side channel's frame decoder (harness/bootstrap/wire), as rank 0 reads a
// stranger's bytes before the handshake (small payload limit) and a member's after it: frames
// are taken one after another and each payload is decoded as its type says. Only MalformedFrame
// may escape the decoder.
#include <cstddef>
#include <cstdint>
#include <string>

#include "harness/bootstrap/wire.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

using namespace fabricbench::bootstrap;

void decode(const wire::Frame& frame) {
  switch (frame.type) {
    case wire::Type::challenge:
      (void)wire::decode_challenge(frame.payload);
      break;
    case wire::Type::hello:
      (void)wire::decode_hello(frame.payload);
      break;
    case wire::Type::welcome:
      (void)wire::decode_welcome(frame.payload);
      break;
    case wire::Type::reject:
      (void)wire::decode_reject(frame.payload);
      break;
    case wire::Type::ready:
      (void)wire::decode_ready(frame.payload);
      break;
    case wire::Type::contrib:
    case wire::Type::result:
      (void)wire::decode_contrib(frame.payload);
      break;
    case wire::Type::abort:
      (void)wire::decode_abort(frame.payload);
      break;
    case wire::Type::bye:
      break;
  }
}

void take_all(const std::string& bytes, std::uint64_t max_payload) {
  std::size_t pos = 0;
  try {
    while (auto frame = wire::take_frame(bytes, pos, max_payload)) {
      try {
        decode(*frame);
      } catch (const wire::MalformedFrame&) {
      }
    }
    (void)wire::peek_payload_length(bytes, pos);
  } catch (const wire::MalformedFrame&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes = fabricbench::fuzz::text_of(data, size);
  take_all(bytes, wire::kMaxHandshakePayload);
  take_all(bytes, wire::kMaxPayload);
  return 0;
}
