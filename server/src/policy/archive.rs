//! Archives `ADD` would unpack, read as the engine reads them before it writes a byte. The
//! classic builder unpacks a local `ADD` source when, after undoing any compression it
//! recognises by its first bytes, Go's tar reader accepts its first header; it then writes
//! every entry in full — a sparse entry's holes as zeros — outside every build limit. So the
//! policy reads the same headers: what they declare must fit the build's size limit, and no
//! entry may be a device, a fifo, or land or point outside the folder it is unpacked into.

/// What a context file is to `ADD`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Copied as it is.
    Plain,
    /// A tar the engine would unpack: what its headers declare.
    Tar(Summary),
    /// Compressed data the engine would try to unpack, which the policy cannot read.
    Compressed(&'static str),
    /// A tar the engine would start unpacking but that breaks the rules.
    Refused(String),
}

/// The declared content of a tar.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Summary {
    /// Bytes the entries expand to on disk: each regular file's declared size (its real
    /// size when sparse).
    pub declared_bytes: u64,
    pub entries: usize,
}

const BLOCK: usize = 512;
/// The engine refuses PAX and long-name records larger than this (Go's tar reader).
const MAX_SPECIAL: u64 = 1 << 20;

/// Read a context file as the engine's `ADD` would.
pub fn inspect(data: &[u8]) -> Kind {
    for (magic, name) in [
        (&b"\x1f\x8b\x08"[..], "gzip"),
        (&b"\xfd7zXZ\x00"[..], "xz"),
        (&b"\x28\xb5\x2f\xfd"[..], "zstd"),
    ] {
        if data.starts_with(magic) {
            return Kind::Compressed(name);
        }
    }
    // bzip2: "BZh1".."BZh9", then a block or the end-of-stream marker.
    if data.len() >= 10
        && data.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&data[3])
        && (data[4..10] == *b"1AY&SY" || data[4..10] == *b"\x17rE8P\x90")
    {
        return Kind::Compressed("bzip2");
    }
    let Some(first) = data.get(..BLOCK) else {
        return Kind::Plain;
    };
    if !checksum_ok(first) {
        return Kind::Plain;
    }
    match read_tar(data) {
        Ok(summary) => Kind::Tar(summary),
        Err(why) => Kind::Refused(why),
    }
}

fn checksum_ok(block: &[u8]) -> bool {
    if block.iter().all(|b| *b == 0) {
        return false;
    }
    let Some(stored) = octal(&block[148..156]) else {
        return false;
    };
    let mut unsigned: i64 = 0;
    let mut signed: i64 = 0;
    for (i, b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { *b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    i64::try_from(stored).is_ok_and(|s| s == unsigned || s == signed)
}

/// An octal field as Go reads it: NULs and spaces around it ignored.
fn octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c| c == ' ' || c == '\0');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

/// A numeric field: octal, or GNU base-256 when the first byte's top bit is set.
fn numeric(field: &[u8]) -> Option<u64> {
    match field.first() {
        Some(b) if b & 0x80 != 0 => {
            if b & 0x40 != 0 {
                return None; // negative
            }
            let mut value: u64 = u64::from(b & 0x3f);
            for b in &field[1..] {
                value = value.checked_mul(256)?.checked_add(u64::from(*b))?;
            }
            Some(value)
        }
        _ => octal(field),
    }
}

fn text_field(field: &[u8]) -> String {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// PAX records: `<len> <key>=<value>\n`.
fn pax_records(data: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.iter().all(|b| *b == 0) {
            break;
        }
        let space = rest
            .iter()
            .position(|b| *b == b' ')
            .ok_or("a PAX record has no length")?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or("a PAX record has a bad length")?;
        if len <= space || len > rest.len() {
            return Err("a PAX record runs past its header".into());
        }
        let record = &rest[space + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        let text = String::from_utf8_lossy(record);
        if let Some((k, v)) = text.split_once('=') {
            out.push((k.to_string(), v.to_string()));
        }
        rest = &rest[len..];
    }
    Ok(out)
}

fn round_up(n: u64) -> u64 {
    n.div_ceil(BLOCK as u64) * BLOCK as u64
}

/// Walk every header; an error says which entry breaks which rule.
fn read_tar(data: &[u8]) -> Result<Summary, String> {
    let mut summary = Summary::default();
    let mut offset: usize = 0;
    let mut pax: Vec<(String, String)> = Vec::new();
    let mut long_name: Option<String> = None;
    let mut long_link: Option<String> = None;
    loop {
        let Some(block) = data.get(offset..offset + BLOCK) else {
            return Ok(summary); // the engine stops where the data stops
        };
        if block.iter().all(|b| *b == 0) {
            return Ok(summary);
        }
        if !checksum_ok(block) {
            return Err(format!(
                "its header after entry {} is damaged, so the engine would stop unpacking part-way",
                summary.entries
            ));
        }
        let kind = block[156];
        let size = numeric(&block[124..136]).ok_or("a header has an unreadable size")?;
        let data_start = offset + BLOCK;
        let pax_size = pax
            .iter()
            .rev()
            .find(|(k, _)| k == "size")
            .and_then(|(_, v)| v.parse::<u64>().ok());
        let physical = pax_size.unwrap_or(size);
        let next = u64::try_from(data_start)
            .ok()
            .and_then(|s| s.checked_add(round_up(physical)))
            .and_then(|n| usize::try_from(n).ok());
        match kind {
            b'x' | b'g' | b'L' | b'K' => {
                if size > MAX_SPECIAL {
                    return Err("a header record is larger than the engine accepts".into());
                }
                let end = (data_start + size as usize).min(data.len());
                let body = &data[data_start.min(end)..end];
                match kind {
                    b'x' => pax.extend(pax_records(body)?),
                    b'g' => {} // the engine ignores global headers
                    b'L' => long_name = Some(text_field(body)),
                    _ => long_link = Some(text_field(body)),
                }
                offset = data_start + round_up(size) as usize;
                continue;
            }
            _ => {}
        }
        let pax_value = |key: &str| {
            pax.iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let ustar = &block[257..263] == b"ustar\0";
        let mut name = text_field(&block[0..100]);
        if ustar {
            let prefix = text_field(&block[345..500]);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        let name = pax_value("GNU.sparse.name")
            .or(pax_value("path"))
            .or(long_name.take())
            .unwrap_or(name);
        let link = pax_value("linkpath")
            .or(long_link.take())
            .unwrap_or_else(|| text_field(&block[157..257]));
        summary.entries += 1;
        check_path(&name)?;
        match kind {
            b'0' | 0 | b'7' => {
                let real = ["GNU.sparse.realsize", "GNU.sparse.size"]
                    .iter()
                    .filter_map(|k| pax_value(k))
                    .filter_map(|v| v.parse::<u64>().ok())
                    .max()
                    .unwrap_or(0);
                summary.declared_bytes = summary
                    .declared_bytes
                    .saturating_add(physical.max(size).max(real));
            }
            b'5' => {}
            b'1' => check_link(&name, &link, true)?,
            b'2' => check_link(&name, &link, false)?,
            b'3' | b'4' => {
                return Err(format!(
                    "its entry “{name}” is a device node; images here may not carry device files"
                ))
            }
            b'6' => {
                return Err(format!(
                    "its entry “{name}” is a named pipe (fifo), which images here may not carry"
                ))
            }
            b'S' => {
                return Err(format!(
                    "its entry “{name}” is an old-style GNU sparse file, which the engine cannot unpack"
                ))
            }
            other => {
                return Err(format!(
                    "its entry “{name}” has a type (“{}”) the engine does not unpack",
                    char::from(other).escape_default()
                ))
            }
        }
        pax.clear();
        offset = next.ok_or("an entry declares an impossible size")?;
    }
}

/// An entry's own name: relative, and never climbing out with `..`.
fn check_path(name: &str) -> Result<(), String> {
    if name.starts_with('/') {
        return Err(format!(
            "its entry “{name}” has an absolute path; entries must be relative to the folder the archive is unpacked into"
        ));
    }
    if escapes(name, "") {
        return Err(format!(
            "its entry “{name}” uses `..` to climb out of the folder the archive is unpacked into"
        ));
    }
    Ok(())
}

/// A link may only point inside the archive: relative, and not above its top once resolved
/// from the link's own folder (a hard link's target is named from the top).
fn check_link(name: &str, target: &str, hard: bool) -> Result<(), String> {
    let what = if hard { "hard link" } else { "symbolic link" };
    if target.starts_with('/') {
        return Err(format!(
            "its {what} “{name}” points at the absolute path “{target}”, outside the archive; point it at a relative path inside it"
        ));
    }
    let base = if hard {
        ""
    } else {
        name.trim_end_matches('/')
            .rsplit_once('/')
            .map_or("", |(dir, _)| dir)
    };
    if escapes(target, base) {
        return Err(format!(
            "its {what} “{name}” points at “{target}”, outside the folder the archive is unpacked into"
        ));
    }
    Ok(())
}

/// Whether `path`, resolved from the folder `base`, climbs above the top.
fn escapes(path: &str, base: &str) -> bool {
    let mut depth: i64 = 0;
    for part in base.split('/').chain(path.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ustar header block for `name` of `kind` with `size`, its checksum filled in.
    pub fn header(name: &str, kind: u8, size: u64, link: &str) -> Vec<u8> {
        let mut h = vec![0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        let size = format!("{size:011o}");
        h[124..135].copy_from_slice(size.as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = kind;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        let sum = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(sum.as_bytes());
        h
    }

    /// A tar of `entries` (header, data), with the two zero blocks at the end.
    pub fn tar(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (h, d) in entries {
            out.extend_from_slice(h);
            out.extend_from_slice(d);
            out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        }
        out.extend_from_slice(&[0u8; 2 * BLOCK]);
        out
    }

    fn pax(records: &[(&str, &str)]) -> (Vec<u8>, Vec<u8>) {
        let mut body = Vec::new();
        for (k, v) in records {
            let content = format!(" {k}={v}\n");
            let mut len = content.len() + 1;
            while len.to_string().len() + content.len() != len {
                len = len.to_string().len() + content.len();
            }
            body.extend_from_slice(format!("{len}{content}").as_bytes());
        }
        (header("PaxHeaders/x", b'x', body.len() as u64, ""), body)
    }

    #[test]
    fn an_honest_tar_is_summed_and_plain_text_is_not_a_tar() {
        let t = tar(&[
            (header("app/", b'5', 0, ""), vec![]),
            (header("app/hello.txt", b'0', 6, ""), b"hello\n".to_vec()),
            (header("app/link", b'2', 0, "hello.txt"), vec![]),
            (header("app/hard", b'1', 0, "app/hello.txt"), vec![]),
        ]);
        assert_eq!(
            inspect(&t),
            Kind::Tar(Summary {
                declared_bytes: 6,
                entries: 4
            })
        );
        assert_eq!(inspect(b"just text\n"), Kind::Plain);
        assert_eq!(inspect(&[b'a'; 600]), Kind::Plain);
        assert_eq!(inspect(&[0u8; 1024]), Kind::Plain);
        assert_eq!(inspect(b"BZh91AY&SY\x00\x00"), Kind::Compressed("bzip2"));
        assert_eq!(inspect(b"BZh9 is just a word"), Kind::Plain);
    }

    #[test]
    fn declared_and_sparse_sizes_count_in_full() {
        // A PAX sparse file: 1 KiB in the archive, 100 GiB on disk.
        let big = (100u64 << 30).to_string();
        let t = tar(&[
            pax(&[("GNU.sparse.major", "1"), ("GNU.sparse.realsize", &big)]),
            (header("big", b'0', 1024, ""), vec![0u8; 1024]),
        ]);
        match inspect(&t) {
            Kind::Tar(s) => assert_eq!(s.declared_bytes, 100 << 30),
            other => panic!("{other:?}"),
        }
        // A PAX size record larger than the header's field.
        let t = tar(&[
            pax(&[("size", "0")]),
            (header("a", b'0', 0, ""), vec![]),
            pax(&[("GNU.sparse.size", "5000000000")]),
            (header("b", b'0', 0, ""), vec![]),
        ]);
        match inspect(&t) {
            Kind::Tar(s) => assert_eq!((s.declared_bytes, s.entries), (5_000_000_000, 2)),
            other => panic!("{other:?}"),
        }
        // GNU base-256 size field.
        let mut h = header("c", b'0', 0, "");
        h[124..136].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0]);
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let mut t = h.clone();
        t.extend_from_slice(&[0u8; 1024]);
        match inspect(&t) {
            Kind::Tar(s) => assert_eq!(s.declared_bytes, 1 << 30),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn paths_links_and_special_files_are_refused() {
        let refused = |entries: &[(Vec<u8>, Vec<u8>)]| match inspect(&tar(entries)) {
            Kind::Refused(why) => why,
            other => panic!("{other:?}"),
        };
        assert!(refused(&[(header("/etc/passwd", b'0', 0, ""), vec![])]).contains("absolute"));
        assert!(refused(&[(header("a/../../x", b'0', 0, ""), vec![])]).contains(".."));
        assert!(refused(&[(header("l", b'2', 0, "../../etc"), vec![])]).contains("outside"));
        assert!(refused(&[(header("l", b'2', 0, "/etc/shadow"), vec![])]).contains("absolute"));
        assert!(refused(&[(header("h", b'1', 0, "../x"), vec![])]).contains("outside"));
        assert!(refused(&[(header("dev/sda", b'4', 0, ""), vec![])]).contains("device"));
        assert!(refused(&[(header("p", b'6', 0, ""), vec![])]).contains("fifo"));
        assert!(refused(&[(header("s", b'S', 0, ""), vec![])]).contains("sparse"));
        // A link inside its own tree is fine.
        let ok = tar(&[(header("a/b/l", b'2', 0, "../c"), vec![])]);
        assert!(matches!(inspect(&ok), Kind::Tar(_)));
        // A long name from a GNU `L` record is the one judged.
        let long = "../".repeat(40) + "x";
        let t = tar(&[
            (
                header("././@LongLink", b'L', long.len() as u64, ""),
                long.into_bytes(),
            ),
            (header("short", b'0', 0, ""), vec![]),
        ]);
        assert!(matches!(inspect(&t), Kind::Refused(w) if w.contains("..")));
    }
}
