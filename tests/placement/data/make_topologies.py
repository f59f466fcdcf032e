#!/usr/bin/env python3
"""Writes the hwloc v2 XML topologies of tests/placement/data from the descriptions below.

The servers are modelled on real two-socket GPU servers (the layouts `nvidia-smi topo -m` and
`lstopo` show on them), written from scratch: run `python3 make_topologies.py` in this folder to
regenerate the .xml files after editing a description. Each NUMA node hangs off a package (with
a Group per node where a package has several), its cores carry two hardware threads numbered
the Linux way (core c: PUs c and c + cores), and PCIe trees (host bridge -> switch -> devices)
hang off the NUMA node they are local to, with the OS devices hwloc's Linux backend would name:
OpenFabrics `mlx5_N`, network interfaces, and for GPUs `cudaN` (co-processor) and `nvmlN`.
"""
import os

GPU_A100 = "0302 [10de:20b0] [10de:134f] a1"
GPU_A10 = "0302 [10de:2236] [10de:1482] a1"
CX6 = "0207 [15b3:101b] [15b3:0007] 00"  # ConnectX-6 (InfiniBand)
CX6DX = "0200 [15b3:101d] [15b3:0016] 00"  # ConnectX-6 Dx (Ethernet)
I350 = "0200 [8086:1521] [8086:00a3] 01"
SWITCH = "0604 [1000:c010] [1000:a064] b0"  # a PCIe switch port
ROOT = "0604 [1022:1483] [0000:0000] 00"  # a root port


def bitmap(bits):
    """hwloc's bitmap text: 32-bit words, most significant first, each 0x%08x."""
    value = 0
    for b in bits:
        value |= 1 << b
    words = []
    while True:
        words.append(value & 0xFFFFFFFF)
        value >>= 32
        if value == 0:
            break
    return ",".join(f"0x{w:08x}" for w in reversed(words))


class Writer:
    def __init__(self):
        self.lines = []
        self.gp = 0

    def gp_index(self):
        self.gp += 1
        return self.gp

    def open(self, depth, text):
        self.lines.append("  " * depth + text)

    def sets(self, cpus, nodes, root=False):
        s = f'cpuset="{bitmap(cpus)}" complete_cpuset="{bitmap(cpus)}"'
        if root:
            s += f' allowed_cpuset="{bitmap(cpus)}"'
        s += f' nodeset="{bitmap(nodes)}" complete_nodeset="{bitmap(nodes)}"'
        if root:
            s += f' allowed_nodeset="{bitmap(nodes)}"'
        return s


def pci_tree(w, depth, tree):
    """tree: (domain_bus_lo, bus_hi, [devices]); a device: (busid, pci_type, [(osdev, type)])
    behind a switch whose upstream port is on the first bus after the host bridge's."""
    lo, hi, devices = tree
    w.open(depth, f'<object type="Bridge" gp_index="{w.gp_index()}" bridge_type="0-1" depth="0" '
                  f'bridge_pci="0000:[{lo:02x}-{hi:02x}]">')
    # Root port on bus lo, switch upstream port on bus lo+1, downstream ports on bus lo+2.
    w.open(depth + 1, f'<object type="Bridge" gp_index="{w.gp_index()}" bridge_type="1-1" depth="1" '
                      f'bridge_pci="0000:[{lo + 1:02x}-{hi:02x}]" pci_busid="0000:{lo:02x}:01.1" '
                      f'pci_type="{ROOT}" pci_link_speed="31.507692">')
    w.open(depth + 2, f'<object type="Bridge" gp_index="{w.gp_index()}" bridge_type="1-1" depth="2" '
                      f'bridge_pci="0000:[{lo + 2:02x}-{hi:02x}]" pci_busid="0000:{lo + 1:02x}:00.0" '
                      f'pci_type="{SWITCH}" pci_link_speed="31.507692">')
    for i, (busid, pci_type, osdevs) in enumerate(devices):
        bus = int(busid.split(":")[1], 16)
        w.open(depth + 3, f'<object type="Bridge" gp_index="{w.gp_index()}" bridge_type="1-1" '
                          f'depth="3" bridge_pci="0000:[{bus:02x}-{bus:02x}]" '
                          f'pci_busid="0000:{lo + 2:02x}:{i * 4:02x}.0" pci_type="{SWITCH}" '
                          f'pci_link_speed="31.507692">')
        w.open(depth + 4, f'<object type="PCIDev" gp_index="{w.gp_index()}" pci_busid="{busid}" '
                          f'pci_type="{pci_type}" pci_link_speed="31.507692">')
        for name, osdev_type in osdevs:
            w.open(depth + 5, f'<object type="OSDev" gp_index="{w.gp_index()}" name="{name}" '
                              f'osdev_type="{osdev_type}"/>')
        w.open(depth + 4, "</object>")
        w.open(depth + 3, "</object>")
    w.open(depth + 2, "</object>")
    w.open(depth + 1, "</object>")
    w.open(depth, "</object>")


OPENFABRICS, NETWORK, GPU, COPROC = 3, 2, 1, 5


def nic(busid, rdma, netdev, pci_type=CX6):
    return (busid, pci_type, [(netdev, NETWORK), (rdma, OPENFABRICS)])


def gpu(busid, index, pci_type=GPU_A100):
    return (busid, pci_type, [(f"cuda{index}", COPROC), (f"nvml{index}", GPU)])


def write(path, title, packages, nodes_per_package, cores_per_node, trees, memory):
    """trees: {numa node: [pci trees]}."""
    nodes = packages * nodes_per_package
    cores = nodes * cores_per_node
    w = Writer()
    w.lines += ['<?xml version="1.0" encoding="UTF-8"?>', '<!DOCTYPE topology SYSTEM "hwloc2.dtd">',
                f"<!-- {title} (tests/placement/data/make_topologies.py) -->",
                '<topology version="2.0">']

    def pus_of(core_list):
        return [c for c in core_list] + [c + cores for c in core_list]

    all_pus = pus_of(range(cores))
    w.open(1, f'<object type="Machine" os_index="0" {w.sets(all_pus, range(nodes), root=True)} '
              f'gp_index="{w.gp_index()}">')
    w.open(2, '<info name="Backend" value="Linux"/>')
    w.open(2, f'<info name="DMIProductName" value="{title}"/>')
    for p in range(packages):
        pnodes = list(range(p * nodes_per_package, (p + 1) * nodes_per_package))
        pcores = list(range(pnodes[0] * cores_per_node, (pnodes[-1] + 1) * cores_per_node))
        w.open(2, f'<object type="Package" os_index="{p}" {w.sets(pus_of(pcores), pnodes)} '
                  f'gp_index="{w.gp_index()}">')
        for n in pnodes:
            ncores = list(range(n * cores_per_node, (n + 1) * cores_per_node))
            depth = 3
            if nodes_per_package > 1:
                w.open(3, f'<object type="Group" {w.sets(pus_of(ncores), [n])} '
                          f'gp_index="{w.gp_index()}" kind="1000" subkind="0" dont_merge="1">')
                depth = 4
            w.open(depth, f'<object type="NUMANode" os_index="{n}" {w.sets(pus_of(ncores), [n])} '
                          f'gp_index="{w.gp_index()}" local_memory="{memory}"/>')
            for c in ncores:
                w.open(depth, f'<object type="Core" os_index="{c}" {w.sets(pus_of([c]), [n])} '
                              f'gp_index="{w.gp_index()}">')
                for pu in pus_of([c]):
                    w.open(depth + 1, f'<object type="PU" os_index="{pu}" {w.sets([pu], [n])} '
                                      f'gp_index="{w.gp_index()}"/>')
                w.open(depth, "</object>")
            for tree in trees.get(n, []):
                pci_tree(w, depth, tree)
            if nodes_per_package > 1:
                w.open(3, "</object>")
        w.open(2, "</object>")
    w.open(1, "</object>")
    w.lines.append("</topology>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(w.lines) + "\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    # DGX A100-like: two 64-core EPYC sockets in NPS4 (here 4 NUMA nodes of 4 cores per socket),
    # eight GPUs and eight compute NICs in pairs behind four PCIe switches (NUMA nodes 3, 1 on
    # socket 0; 7, 5 on socket 1), two storage NICs (nodes 2 and 6) and a management port (node 0).
    write(os.path.join(here, "dgx_a100_like.xml"), "DGX A100-like, 2 sockets, 8 NUMA nodes", 2, 4,
          4, {
              0: [(0x20, 0x2f, [nic("0000:22:00.0", "mlx5_12", "eno1", I350)])],
              1: [(0x40, 0x5f, [gpu("0000:47:00.0", 2), nic("0000:4b:00.0", "mlx5_2", "ibp75s0"),
                                gpu("0000:4e:00.0", 3), nic("0000:54:00.0", "mlx5_3", "ibp84s0")])],
              2: [(0x60, 0x6f, [nic("0000:61:00.0", "mlx5_4", "enp97s0f0", CX6DX)])],
              3: [(0x00, 0x1f, [gpu("0000:07:00.0", 0), nic("0000:0c:00.0", "mlx5_0", "ibp12s0"),
                                gpu("0000:0f:00.0", 1), nic("0000:12:00.0", "mlx5_1", "ibp18s0")])],
              5: [(0xb0, 0xcf, [gpu("0000:b7:00.0", 6), nic("0000:ba:00.0", "mlx5_8", "ibp186s0"),
                                gpu("0000:bd:00.0", 7), nic("0000:c1:00.0", "mlx5_9", "ibp193s0")])],
              6: [(0xe0, 0xef, [nic("0000:e1:00.0", "mlx5_10", "enp225s0f0", CX6DX)])],
              7: [(0x80, 0x9f, [gpu("0000:87:00.0", 4), nic("0000:8b:00.0", "mlx5_6", "ibp139s0"),
                                gpu("0000:90:00.0", 5), nic("0000:94:00.0", "mlx5_7", "ibp148s0")])],
          }, 68719476736)
    # A simpler 2-socket server: one NUMA node per socket, 8 cores each, one GPU and one NIC per
    # socket behind a switch, and the onboard Ethernet on socket 0.
    write(os.path.join(here, "two_socket_gpu_nic.xml"), "2 sockets, one GPU and one NIC each", 2, 1,
          8, {
              0: [(0x10, 0x1f, [gpu("0000:17:00.0", 0, GPU_A10),
                                nic("0000:18:00.0", "mlx5_0", "ens1f0np0", CX6DX)]),
                  (0x60, 0x6f, [nic("0000:61:00.0", "mlx5_2", "eno1", I350)])],
              1: [(0xb0, 0xbf, [gpu("0000:b1:00.0", 1, GPU_A10),
                                nic("0000:b2:00.0", "mlx5_1", "ens2f0np0", CX6DX)])],
          }, 137438953472)
    # The NIC and the GPU on different sockets: the NIC in a slot of socket 0, the only GPU in a
    # slot of socket 1.
    write(os.path.join(here, "nic_gpu_split_sockets.xml"), "2 sockets, NIC on 0, GPU on 1", 2, 1, 8,
          {
              0: [(0x10, 0x1f, [nic("0000:17:00.0", "mlx5_0", "ens1f0np0", CX6DX)])],
              1: [(0x80, 0x8f, [gpu("0000:86:00.0", 0, GPU_A10)])],
          }, 68719476736)


if __name__ == "__main__":
    main()
