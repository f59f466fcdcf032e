// The `dmabuf` memory provider (dmabuf_memory.hpp). The DRM structures come from libdrm's kernel
// headers (libdrm-dev); no DRM library is linked.
#include "transports/api/dmabuf_memory.hpp"

#include <fcntl.h>
#include <libdrm/drm.h>
#include <linux/udmabuf.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <string>

#include "core/error.hpp"

namespace fabricbench::transport {
namespace {

using core::Error;
using core::ErrorKind;

constexpr const char* kUdmabuf = "/dev/udmabuf";

std::string errno_text(int err) {
  return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")";
}

std::size_t page_rounded(std::size_t bytes) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return ((bytes == 0 ? 1 : bytes) + page - 1) / page * page;
}

// The DRM driver behind an open card node ("vgem", "i915", ...), or "" when it does not answer.
std::string drm_driver_name(int fd) {
  std::array<char, 64> name{};
  drm_version v{};
  v.name = name.data();
  v.name_len = name.size() - 1;
  if (ioctl(fd, DRM_IOCTL_VERSION, &v) != 0) return {};
  return std::string(name.data(), std::min<std::size_t>(v.name_len, name.size() - 1));
}

// An open vgem card node, or -1.
int open_vgem() {
  for (int i = 0; i < 16; ++i) {
    const std::string path = "/dev/dri/card" + std::to_string(i);
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    if (drm_driver_name(fd) == "vgem") return fd;
    ::close(fd);
  }
  return -1;
}

struct Entry {
  int dmabuf = -1;        // the exported dma-buf
  int backing = -1;       // udmabuf: the memfd; vgem: -1 (the card fd is the provider's)
  std::uint32_t gem = 0;  // vgem: the dumb buffer's handle
  std::size_t mapped = 0;
};

class DmabufProvider final : public MemoryProvider {
 public:
  DmabufProvider() {
    if (::access(kUdmabuf, R_OK | W_OK) == 0) {
      exporter_ = "udmabuf";
    } else {
      card_ = open_vgem();
      if (card_ >= 0) exporter_ = "vgem";
    }
  }
  ~DmabufProvider() override {
    for (auto& [addr, e] : entries_) close_entry(addr, e);
    if (card_ >= 0) ::close(card_);
  }
  DmabufProvider(const DmabufProvider&) = delete;
  DmabufProvider& operator=(const DmabufProvider&) = delete;

  std::string name() const override { return "dmabuf"; }
  MemoryTraits traits() const override {
    MemoryTraits t;
    t.dmabuf = true;
    return t;
  }

  Buffer allocate(std::size_t bytes) override {
    if (exporter_.empty()) throw Error(ErrorKind::unavailable, *dmabuf_unavailable_reason());
    const std::size_t length = page_rounded(bytes);
    Entry e;
    void* addr = exporter_ == "udmabuf" ? from_udmabuf(length, e) : from_vgem(length, e);
    e.mapped = length;
    entries_[addr] = e;
    return Buffer{addr, bytes, traits(), this};
  }

  void release(Buffer& buffer) noexcept override {
    auto it = entries_.find(buffer.addr);
    if (it != entries_.end()) {
      close_entry(it->first, it->second);
      entries_.erase(it);
    }
    buffer = Buffer{};
  }

  Dmabuf export_dmabuf(const Buffer& buffer) const override {
    auto it = entries_.find(buffer.addr);
    if (it == entries_.end()) {
      throw Error(ErrorKind::runtime, "dmabuf memory: the buffer was not allocated here");
    }
    const int fd = ::fcntl(it->second.dmabuf, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      throw Error(ErrorKind::runtime, "dmabuf memory: dup of the dma-buf: " + errno_text(errno));
    }
    return Dmabuf{fd, 0, exporter_};
  }

  nlohmann::json facts() const override {
    return {{"provider", "dmabuf"}, {"allocator", exporter_}};
  }

 private:
  void* from_udmabuf(std::size_t length, Entry& e) {
    e.backing = ::memfd_create("fabricbench-dmabuf", MFD_ALLOW_SEALING | MFD_CLOEXEC);
    if (e.backing < 0) fail("memfd_create", errno, e);
    if (::ftruncate(e.backing, static_cast<off_t>(length)) != 0) fail("ftruncate", errno, e);
    if (::fcntl(e.backing, F_ADD_SEALS, F_SEAL_SHRINK) != 0) fail("F_SEAL_SHRINK", errno, e);
    const int dev = ::open(kUdmabuf, O_RDWR | O_CLOEXEC);
    if (dev < 0) fail("open /dev/udmabuf", errno, e);
    udmabuf_create create{};
    create.memfd = static_cast<__u32>(e.backing);
    create.flags = UDMABUF_FLAGS_CLOEXEC;
    create.size = length;
    e.dmabuf = ::ioctl(dev, UDMABUF_CREATE, &create);
    const int err = errno;
    ::close(dev);
    if (e.dmabuf < 0) fail("UDMABUF_CREATE", err, e);
    void* p = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, e.backing, 0);
    if (p == MAP_FAILED) fail("mmap of the memfd", errno, e);
    return p;
  }

  void* from_vgem(std::size_t length, Entry& e) {
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    drm_mode_create_dumb create{};
    create.width = static_cast<__u32>(page);
    create.bpp = 8;
    create.height = static_cast<__u32>(length / page);
    if (length / page > 0xffffffffULL / page) {
      throw Error(ErrorKind::config, "dmabuf memory: vgem dumb buffers hold less than 4 GiB");
    }
    if (::ioctl(card_, DRM_IOCTL_MODE_CREATE_DUMB, &create) != 0) {
      fail("DRM_IOCTL_MODE_CREATE_DUMB", errno, e);
    }
    e.gem = create.handle;
    drm_prime_handle prime{};
    prime.handle = create.handle;
    prime.flags = DRM_CLOEXEC | DRM_RDWR;
    if (::ioctl(card_, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime) != 0) {
      fail("DRM_IOCTL_PRIME_HANDLE_TO_FD", errno, e);
    }
    e.dmabuf = prime.fd;
    drm_mode_map_dumb map{};
    map.handle = create.handle;
    if (::ioctl(card_, DRM_IOCTL_MODE_MAP_DUMB, &map) != 0) {
      fail("DRM_IOCTL_MODE_MAP_DUMB", errno, e);
    }
    void* p = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, card_,
                     static_cast<off_t>(map.offset));
    if (p == MAP_FAILED) fail("mmap of the dumb buffer", errno, e);
    std::memset(p, 0, length);
    return p;
  }

  [[noreturn]] void fail(const char* what, int err, Entry& e) {
    close_entry(nullptr, e);
    throw Error(ErrorKind::runtime,
                "dmabuf memory (" + exporter_ + "): " + what + " failed: " + errno_text(err));
  }

  void close_entry(void* addr, Entry& e) noexcept {
    if (addr != nullptr && e.mapped != 0) ::munmap(addr, e.mapped);
    if (e.dmabuf >= 0) ::close(e.dmabuf);
    if (e.backing >= 0) ::close(e.backing);
    if (e.gem != 0 && card_ >= 0) {
      drm_gem_close close{};
      close.handle = e.gem;
      ::ioctl(card_, DRM_IOCTL_GEM_CLOSE, &close);
    }
    e = Entry{};
  }

  std::string exporter_;  // "udmabuf", "vgem" or "" (none here)
  int card_ = -1;
  std::map<void*, Entry> entries_;
};

}  // namespace

std::unique_ptr<MemoryProvider> make_dmabuf_provider() {
  return std::make_unique<DmabufProvider>();
}

std::optional<std::string> dmabuf_unavailable_reason() {
  if (::access(kUdmabuf, R_OK | W_OK) == 0) return std::nullopt;
  const int card = open_vgem();
  if (card >= 0) {
    ::close(card);
    return std::nullopt;
  }
  return std::string(
      "no dma-buf exporter here: no /dev/udmabuf and no vgem device among /dev/dri/card0..15 "
      "(load the udmabuf or vgem kernel module)");
}

MemoryDescriptor dmabuf_memory() {
  MemoryTraits t;
  t.dmabuf = true;
  return {"dmabuf",
          "host memory exported as a dma-buf (udmabuf, else vgem): the dma-buf registration path "
          "(ibv_reg_dmabuf_mr) without a GPU",
          t,
          {},
          [](const core::Settings&) { return make_dmabuf_provider(); },
          dmabuf_unavailable_reason};
}

}  // namespace fabricbench::transport
