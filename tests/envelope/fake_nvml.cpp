// A stand-in for libnvidia-ml.so.1 (tests only): two GPUs with known figures, loaded by the
// envelope through FABRICBENCH_NVML_LIBRARY or capture_gpus(missing, path). GPU 0 runs at half
// its PCIe width; GPU 1 at gen1 of gen5 (idle) and refuses ECC and MIG queries. It does not
// export nvmlDeviceGetEnforcedPowerLimit. FAKE_NVML_INIT_FAIL=1 makes nvmlInit_v2 fail.
#include <cstdlib>
#include <cstring>

namespace {

struct FakeDevice {
  const char* bus_id;
  const char* name;
  const char* uuid;
  unsigned gen, width, max_gen, max_width;
  bool ecc_supported;
};

FakeDevice devices[2] = {
    {"00000000:3B:00.0", "Fake GPU A", "GPU-00000000-aaaa", 4, 8, 4, 16, true},
    {"00000000:5E:00.0", "Fake GPU B", "GPU-00000000-bbbb", 1, 16, 5, 16, false},
};

constexpr int kSuccess = 0;
constexpr int kInvalidArgument = 2;
constexpr int kNotSupported = 3;
constexpr int kDriverNotLoaded = 9;

FakeDevice* dev(void* d) {
  return static_cast<FakeDevice*>(d);
}

int copy(const char* text, char* out, unsigned size) {
  if (std::strlen(text) + 1 > size) return kInvalidArgument;
  std::strcpy(out, text);
  return kSuccess;
}

}  // namespace

extern "C" {

struct PciInfo {
  char bus_id_legacy[16];
  unsigned domain, bus, device, pci_device_id, pci_subsystem_id;
  char bus_id[32];
};
struct Bar1 {
  unsigned long long total, free, used;
};

__attribute__((visibility("default"))) int nvmlInit_v2() {
  const char* fail = std::getenv("FAKE_NVML_INIT_FAIL");
  return fail != nullptr && fail[0] == '1' ? kDriverNotLoaded : kSuccess;
}
__attribute__((visibility("default"))) int nvmlShutdown() {
  return kSuccess;
}
__attribute__((visibility("default"))) const char* nvmlErrorString(int rc) {
  if (rc == kNotSupported) return "Not Supported";
  if (rc == kDriverNotLoaded) return "Driver Not Loaded";
  return "Unknown Error";
}
__attribute__((visibility("default"))) int nvmlSystemGetDriverVersion(char* out, unsigned size) {
  return copy("550.54.15", out, size);
}
__attribute__((visibility("default"))) int nvmlSystemGetCudaDriverVersion_v2(int* v) {
  *v = 12040;
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlDeviceGetCount_v2(unsigned* n) {
  *n = 2;
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlDeviceGetHandleByIndex_v2(unsigned i, void** d) {
  if (i >= 2) return kInvalidArgument;
  *d = &devices[i];
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlDeviceGetName(void* d, char* out, unsigned size) {
  return copy(dev(d)->name, out, size);
}
__attribute__((visibility("default"))) int nvmlDeviceGetUUID(void* d, char* out, unsigned size) {
  return copy(dev(d)->uuid, out, size);
}
__attribute__((visibility("default"))) int nvmlDeviceGetPciInfo_v3(void* d, PciInfo* pci) {
  std::memset(pci, 0, sizeof *pci);
  return copy(dev(d)->bus_id, pci->bus_id, sizeof pci->bus_id);
}
__attribute__((visibility("default"))) int nvmlDeviceGetCurrPcieLinkGeneration(void* d,
                                                                               unsigned* v) {
  *v = dev(d)->gen;
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlDeviceGetCurrPcieLinkWidth(void* d, unsigned* v) {
  *v = dev(d)->width;
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlDeviceGetMaxPcieLinkGeneration(void* d,
                                                                              unsigned* v) {
  *v = dev(d)->max_gen;
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlDeviceGetMaxPcieLinkWidth(void* d, unsigned* v) {
  *v = dev(d)->max_width;
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlDeviceGetGpuMaxPcieLinkGeneration(void*,
                                                                                 unsigned* v) {
  *v = 5;
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlDeviceGetBAR1MemoryInfo(void*, Bar1* b) {
  b->total = 256ULL << 20;
  b->free = 200ULL << 20;
  b->used = 56ULL << 20;
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlDeviceGetMigMode(void* d, unsigned* cur,
                                                                unsigned* pending) {
  if (!dev(d)->ecc_supported) return kNotSupported;
  *cur = 0;
  *pending = 1;
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlDeviceGetEccMode(void* d, int* cur, int* pending) {
  if (!dev(d)->ecc_supported) return kNotSupported;
  *cur = 1;
  *pending = 1;
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlDeviceGetTotalEccErrors(void* d, int type,
                                                                       int counter,
                                                                       unsigned long long* n) {
  if (!dev(d)->ecc_supported) return kNotSupported;
  *n = static_cast<unsigned long long>(10 * type + counter + 1);  // distinct per pair
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlDeviceGetClockInfo(void*, int type, unsigned* v) {
  *v = type == 1 ? 1410 : 1215;
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlDeviceGetMaxClockInfo(void*, int type, unsigned* v) {
  *v = type == 1 ? 1980 : 2619;
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlDeviceGetPowerManagementLimit(void*, unsigned* v) {
  *v = 700000;
  return kSuccess;
}
__attribute__((visibility("default"))) int nvmlDeviceGetPersistenceMode(void*, int* v) {
  *v = 1;
  return kSuccess;
}

}  // extern "C"
