#!/usr/bin/env python3
"""Pulls compressed msgr2 frames out of a pcap of OSD-to-OSD traffic (crc mode).

    tcpdump -i lo -w osd.pcap 'tcp portrange 6800-7300'   # while OSDs compress
    extract.py osd.pcap OUTPREFIX

Reassembles each TCP direction that starts with a SYN, skips the msgr2 banner, walks the
frames (msgr2.1 crc layout: preamble 32, seg1 + crc if non-empty, seg2-4, epilogue 13 if
more than one segment) and writes every frame whose preamble flags has 0x01
(FRAME_EARLY_DATA_COMPRESSED): the smallest of each segment count, as OUTPREFIX-<N>seg.bin.
Prints one line per frame written: file, tag, compressed segment lengths.
"""
import struct
import sys


def packets(path):
    d = open(path, 'rb').read()
    magic = struct.unpack('<I', d[:4])[0]
    if magic not in (0xa1b2c3d4, 0xa1b23c4d):
        sys.exit('not a little-endian pcap')
    linktype = struct.unpack('<I', d[20:24])[0]
    off = 24
    while off + 16 <= len(d):
        _, _, incl, _ = struct.unpack('<IIII', d[off:off + 16])
        off += 16
        yield linktype, d[off:off + incl]
        off += incl


def tcp(path):
    for linktype, pkt in packets(path):
        if linktype == 1:  # Ethernet (Linux lo)
            ethertype, ip = struct.unpack('>H', pkt[12:14])[0], pkt[14:]
        elif linktype == 113:  # Linux cooked
            ethertype, ip = struct.unpack('>H', pkt[14:16])[0], pkt[16:]
        else:
            continue
        if ethertype != 0x0800 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        total = struct.unpack('>H', ip[2:4])[0]
        seg = ip[ihl:total]
        sport, dport, seq = struct.unpack('>HHI', seg[:8])
        doff = (seg[12] >> 4) * 4
        yield (sport, dport), seq, seg[13], seg[doff:]


def streams(path):
    isn, parts = {}, {}
    for flow, seq, flags, payload in tcp(path):
        if flags & 0x02:  # SYN
            isn[flow] = (seq + 1) & 0xffffffff
            parts[flow] = {}
        elif flow in isn and payload:
            parts[flow][(seq - isn[flow]) & 0xffffffff] = payload
    for flow, chunks in parts.items():
        buf = bytearray()
        for off in sorted(chunks):
            data = chunks[off]
            if off > len(buf):
                break  # a hole (dropped packet): stop here
            buf += data[len(buf) - off:]
        yield flow, bytes(buf)


def frames(stream):
    if not stream.startswith(b'ceph v2\n'):
        return
    pos = 8 + 2 + struct.unpack('<H', stream[8:10])[0]
    while pos + 32 <= len(stream):
        pre = stream[pos:pos + 32]
        tag, nseg = pre[0], pre[1]
        if not 1 <= nseg <= 4:
            return  # not a crc-mode frame boundary (secure mode, or lost sync)
        lens = [struct.unpack('<I', pre[2 + 6 * i:6 + 6 * i])[0] for i in range(4)][:nseg]
        flags = pre[26]
        n = 32 + lens[0] + (4 if lens[0] else 0)
        if nseg > 1:
            n += sum(lens[1:]) + 13
        if pos + n > len(stream):
            return
        yield tag, flags, lens, stream[pos:pos + n]
        pos += n


def main():
    path, prefix = sys.argv[1], sys.argv[2]
    smallest = {}
    total = 0
    for flow, stream in streams(path):
        for tag, flags, lens, raw in frames(stream):
            if flags & 1:
                total += 1
                best = smallest.get(len(lens))
                if best is None or len(raw) < len(best[2]):
                    smallest[len(lens)] = (tag, lens, raw, flow)
    print(f'{total} compressed frames', file=sys.stderr)
    for nseg, (tag, lens, raw, flow) in sorted(smallest.items()):
        name = f'{prefix}-{nseg}seg.bin'
        open(name, 'wb').write(raw)
        print(name, 'tag', tag, 'segments', lens, 'flow', flow)


main()
