#include "transports/api/transport.hpp"

namespace fabricbench::transport {

const char* op_name(Op op) noexcept {
  switch (op) {
    case Op::send:
      return "send";
    case Op::recv:
      return "recv";
    case Op::write:
      return "write";
    case Op::write_imm:
      return "write_imm";
    case Op::read:
      return "read";
    case Op::fetch_add:
      return "fetch_add";
    case Op::compare_swap:
      return "compare_swap";
  }
  return "unknown";
}

}  // namespace fabricbench::transport
