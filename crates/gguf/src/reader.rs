//! Reading GGUF files: header, metadata, tensor index, and zero-copy tensor
//! data from a memory map.
//!
//! Layout per the GGUF specification (llama.cpp `ggml/docs/gguf.md`):
//! magic "GGUF", u32 version, u64 tensor count, u64 metadata count, the
//! metadata key/values, the tensor infos (name, u32 n_dims, u64 dims[n_dims],
//! u32 type, u64 offset), padding to `general.alignment` (default 32), then the
//! tensor data; each tensor offset is relative to the data start and aligned.
//! All integers are little-endian.

#[cfg(target_os = "linux")]
use crate::resident::Placed;
use crate::{GgmlType, GgufError, Value, ValueType};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Hard caps checked before anything is allocated.
pub mod caps {
    /// Tensors in one file.
    pub const MAX_TENSORS: u64 = 1 << 20;
    /// Metadata key/value pairs in one file.
    pub const MAX_KV: u64 = 1 << 20;
    /// Bytes in one string (key, value or tensor name).
    pub const MAX_STRING: u64 = 16 << 20;
    /// Bytes in a tensor name or metadata key.
    pub const MAX_NAME: u64 = 64 << 10;
    /// Elements in one array.
    pub const MAX_ARRAY: u64 = 1 << 26;
    /// Nesting of arrays inside arrays.
    pub const MAX_DEPTH: usize = 4;
    /// Dimensions of one tensor (ggml's GGML_MAX_DIMS).
    pub const MAX_DIMS: u32 = 4;
    /// Largest `general.alignment`.
    pub const MAX_ALIGNMENT: u64 = 1 << 16;
}

/// One entry of the tensor index.
#[derive(Clone, Debug)]
pub struct TensorInfo {
    pub name: String,
    /// Shape in ggml order: `dims[0]` is the innermost (contiguous) dimension.
    pub dims: Vec<u64>,
    pub ty: GgmlType,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
    /// Bytes of data.
    pub size: u64,
}

impl TensorInfo {
    /// Number of elements.
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }
}

enum Backing {
    /// The map, and the file it maps (read again by [`GgufFile::make_resident`]).
    Mmap(memmap2::Mmap, std::fs::File),
    Owned(Vec<u8>),
    /// Mapped at a 2 MB-aligned address, being or having been copied into
    /// huge pages there ([`GgufFile::make_resident`]).
    #[cfg(target_os = "linux")]
    Placed(Placed),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mmap(m, _) => m,
            Backing::Owned(v) => v,
            #[cfg(target_os = "linux")]
            Backing::Placed(p) => p.bytes(),
        }
    }
}

/// An opened GGUF file. Tensor data are slices into the memory map.
pub struct GgufFile {
    path: PathBuf,
    backing: Backing,
    pub version: u32,
    pub alignment: u64,
    /// Metadata in file order.
    pub metadata: Vec<(String, Value)>,
    meta_index: HashMap<String, usize>,
    pub tensors: Vec<TensorInfo>,
    tensor_index: HashMap<String, usize>,
    /// Absolute offset of the data section.
    pub data_offset: u64,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("metadata", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: u64,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn len(&self) -> u64 {
        self.buf.len() as u64
    }
    fn remaining(&self) -> u64 {
        self.len() - self.pos
    }
    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], GgufError> {
        if n > self.remaining() {
            return Err(GgufError::Truncated {
                path: self.path.to_path_buf(),
                what: what.to_string(),
                offset: self.pos,
                need: n,
                len: self.len(),
            });
        }
        let s = &self.buf[self.pos as usize..(self.pos + n) as usize];
        self.pos += n;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        Ok(self
            .take(N as u64, what)?
            .try_into()
            .expect("length checked"))
    }
    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.arr(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.arr(what)?))
    }
    fn corrupt(&self, what: String) -> GgufError {
        GgufError::Corrupt {
            path: self.path.to_path_buf(),
            what,
        }
    }
    fn string(&mut self, what: &str, cap: u64) -> Result<String, GgufError> {
        let at = self.pos;
        let n = self.u64(what)?;
        if n > cap {
            return Err(self.corrupt(format!(
                "{what} at byte {at} claims {n} bytes, more than the limit of {cap}"
            )));
        }
        let bytes = self.take(n, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| self.corrupt(format!("{what} at byte {at} is not valid UTF-8")))
    }
    fn value(&mut self, ty: ValueType, depth: usize, key: &str) -> Result<Value, GgufError> {
        Ok(match ty {
            ValueType::U8 => Value::U8(self.arr::<1>(key)?[0]),
            ValueType::I8 => Value::I8(self.arr::<1>(key)?[0] as i8),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.arr(key)?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.arr(key)?)),
            ValueType::U32 => Value::U32(u32::from_le_bytes(self.arr(key)?)),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.arr(key)?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.arr(key)?)),
            ValueType::U64 => Value::U64(u64::from_le_bytes(self.arr(key)?)),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.arr(key)?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.arr(key)?)),
            ValueType::Bool => {
                let b = self.arr::<1>(key)?[0];
                if b > 1 {
                    return Err(
                        self.corrupt(format!("metadata {key:?}: bool value {b} is not 0 or 1"))
                    );
                }
                Value::Bool(b == 1)
            }
            ValueType::String => {
                // The labelled message is built only on the error path (a
                // vocabulary holds hundreds of thousands of strings): the
                // failed read is repeated from the same place with it.
                let at = self.pos;
                match self.string("metadata string", caps::MAX_STRING) {
                    Ok(s) => Value::String(s),
                    Err(_) => {
                        self.pos = at;
                        Value::String(
                            self.string(&format!("metadata {key:?} string"), caps::MAX_STRING)?,
                        )
                    }
                }
            }
            ValueType::Array => {
                if depth >= caps::MAX_DEPTH {
                    return Err(self.corrupt(format!(
                        "metadata {key:?}: arrays nested deeper than {}",
                        caps::MAX_DEPTH
                    )));
                }
                let tid = self.u32(key)?;
                let elem = ValueType::from_id(tid).ok_or_else(|| {
                    self.corrupt(format!(
                        "metadata {key:?}: unknown array element type {tid}"
                    ))
                })?;
                let at = self.pos;
                let n = self.u64(key)?;
                if n > caps::MAX_ARRAY {
                    return Err(self.corrupt(format!(
                        "metadata {key:?}: array at byte {at} claims {n} elements, more than the limit of {}",
                        caps::MAX_ARRAY
                    )));
                }
                if n.saturating_mul(elem.min_size()) > self.remaining() {
                    return Err(GgufError::Truncated {
                        path: self.path.to_path_buf(),
                        what: format!("metadata {key:?}: array of {n} {elem:?}"),
                        offset: at,
                        need: n.saturating_mul(elem.min_size()),
                        len: self.len(),
                    });
                }
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    items.push(self.value(elem, depth + 1, key)?);
                }
                Value::Array { elem, items }
            }
        })
    }
}

impl GgufFile {
    /// Open and validate a GGUF file, mapping it into memory.
    pub fn open(path: impl AsRef<Path>) -> Result<GgufFile, GgufError> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| GgufError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let meta = file.metadata().map_err(|source| GgufError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.is_dir() {
            return Err(GgufError::Invalid {
                path: path.to_path_buf(),
                what: "is a directory, not a GGUF file; pass the .gguf file inside it".into(),
            });
        }
        let backing = if meta.len() == 0 {
            Backing::Owned(Vec::new())
        } else {
            // SAFETY: the map is read-only. A file changed by another process
            // while mapped could change bytes under us; hearth never writes to
            // a model file it has open, and the store installs models by
            // rename, so a mapped file is never modified in place by hearth.
            let m = unsafe { memmap2::Mmap::map(&file) }.map_err(|source| GgufError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            Backing::Mmap(m, file)
        };
        Self::parse(path.to_path_buf(), backing)
    }

    /// Parse a GGUF image held in memory (`path` is only used in messages).
    pub fn from_bytes(path: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<GgufFile, GgufError> {
        Self::parse(path.into(), Backing::Owned(bytes))
    }

    fn parse(path: PathBuf, backing: Backing) -> Result<GgufFile, GgufError> {
        let buf = backing.bytes();
        let mut c = Cursor {
            buf,
            pos: 0,
            path: &path,
        };
        if buf.len() < 4 || &buf[..4] != b"GGUF" {
            let found = String::from_utf8_lossy(&buf[..buf.len().min(4)]).into_owned();
            return Err(GgufError::NotGguf {
                path: path.clone(),
                found,
            });
        }
        c.pos = 4;
        let version = c.u32("version")?;
        if version != 2 && version != 3 {
            return Err(GgufError::Version {
                path: path.clone(),
                version,
            });
        }
        let n_tensors = c.u64("tensor count")?;
        let n_kv = c.u64("metadata count")?;
        if n_tensors > caps::MAX_TENSORS || n_tensors.saturating_mul(24) > c.remaining() {
            return Err(c.corrupt(format!(
                "tensor count {n_tensors} is impossible for a file of {} bytes",
                c.len()
            )));
        }
        if n_kv > caps::MAX_KV || n_kv.saturating_mul(13) > c.remaining() {
            return Err(c.corrupt(format!(
                "metadata count {n_kv} is impossible for a file of {} bytes",
                c.len()
            )));
        }

        let mut metadata = Vec::with_capacity(n_kv as usize);
        let mut meta_index = HashMap::with_capacity(n_kv as usize);
        for i in 0..n_kv {
            let key = c.string(&format!("metadata key #{i}"), caps::MAX_NAME)?;
            let tid = c.u32(&key)?;
            let ty = ValueType::from_id(tid).ok_or_else(|| {
                c.corrupt(format!("metadata {key:?} has unknown value type {tid}"))
            })?;
            let v = c.value(ty, 0, &key)?;
            if meta_index.insert(key.clone(), metadata.len()).is_some() {
                return Err(c.corrupt(format!("metadata key {key:?} appears twice")));
            }
            metadata.push((key, v));
        }

        let alignment = match meta_index.get("general.alignment").map(|&i| &metadata[i].1) {
            None => 32,
            Some(v) => match v.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() && a <= caps::MAX_ALIGNMENT => a,
                _ => {
                    return Err(c.corrupt(format!(
                        "general.alignment {} is not a power of two up to {}",
                        v.display_short(4),
                        caps::MAX_ALIGNMENT
                    )))
                }
            },
        };

        let mut tensors = Vec::with_capacity(n_tensors as usize);
        let mut tensor_index = HashMap::with_capacity(n_tensors as usize);
        for i in 0..n_tensors {
            let name = c.string(&format!("tensor name #{i}"), caps::MAX_NAME)?;
            let n_dims = c.u32(&name)?;
            if n_dims == 0 || n_dims > caps::MAX_DIMS {
                return Err(c.corrupt(format!(
                    "tensor {name:?} has {n_dims} dimensions (1 to {} allowed)",
                    caps::MAX_DIMS
                )));
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            let mut n: u64 = 1;
            for _ in 0..n_dims {
                let d = c.u64(&name)?;
                n = n
                    .checked_mul(d)
                    .filter(|&n| n <= i64::MAX as u64)
                    .ok_or_else(|| {
                        c.corrupt(format!("tensor {name:?}: element count overflows"))
                    })?;
                dims.push(d);
            }
            let tid = c.u32(&name)?;
            let ty = GgmlType::from_id(tid)
                .ok_or_else(|| c.corrupt(format!("tensor {name:?} has unknown type id {tid}")))?;
            let offset = c.u64(&name)?;
            if offset % alignment != 0 {
                return Err(c.corrupt(format!(
                    "tensor {name:?} offset {offset} is not a multiple of the alignment {alignment}"
                )));
            }
            if dims[0] % ty.block_size() as u64 != 0 {
                return Err(c.corrupt(format!(
                    "tensor {name:?}: row length {} is not a multiple of the {} block size {}",
                    dims[0],
                    ty,
                    ty.block_size()
                )));
            }
            let size = ty
                .bytes_for(n)
                .ok_or_else(|| c.corrupt(format!("tensor {name:?}: size overflows")))?;
            if tensor_index.insert(name.clone(), tensors.len()).is_some() {
                return Err(c.corrupt(format!("tensor name {name:?} appears twice")));
            }
            tensors.push(TensorInfo {
                name,
                dims,
                ty,
                offset,
                size,
            });
        }

        let data_offset = c.pos.div_ceil(alignment) * alignment;
        let len = c.len();
        for t in &tensors {
            let end = data_offset
                .checked_add(t.offset)
                .and_then(|s| s.checked_add(t.size));
            match end {
                Some(end) if end <= len => {}
                _ => {
                    return Err(GgufError::Truncated {
                        path: path.clone(),
                        what: format!("data of tensor {:?} ({} {:?})", t.name, t.ty, t.dims),
                        offset: data_offset.saturating_add(t.offset),
                        need: t.size,
                        len,
                    })
                }
            }
        }
        Ok(GgufFile {
            path,
            backing,
            version,
            alignment,
            metadata,
            meta_index,
            tensors,
            tensor_index,
            data_offset,
        })
    }

    /// The path the file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Total size of the file in bytes.
    pub fn file_size(&self) -> u64 {
        self.backing.bytes().len() as u64
    }

    /// A metadata value by key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.meta_index.get(key).map(|&i| &self.metadata[i].1)
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(Value::as_u64)
    }

    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(Value::as_f64)
    }

    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(Value::as_bool)
    }

    pub fn get_array(&self, key: &str) -> Option<&[Value]> {
        self.get(key).and_then(Value::as_array)
    }

    /// `general.architecture`.
    pub fn architecture(&self) -> Option<&str> {
        self.get_str("general.architecture")
    }

    /// A tensor's index entry by name.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// The bytes of a tensor: a zero-copy slice of the mapped file. Bounds were
    /// checked when the file was opened.
    pub fn tensor_data(&self, t: &TensorInfo) -> &[u8] {
        let start = (self.data_offset + t.offset) as usize;
        &self.backing.bytes()[start..start + t.size as usize]
    }

    /// The whole file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.backing.bytes()
    }

    /// Move a mapped file's bytes into anonymous memory in 2 MB pages, by a
    /// thread in the background, at the same addresses (see `resident.rs`): the
    /// weights then stream faster, for memory the kernel cannot reclaim by
    /// dropping pages of the file. Returns whether a copy was started (or
    /// had been): not for a file read into memory, nor where this is not
    /// supported (other systems than Linux). An error (the file stays
    /// mapped and usable) when the file cannot be mapped again.
    ///
    /// The byte ranges in `skip` (tables read a row at a time, such as an
    /// embedding table that is not the output projection) stay mapped, so
    /// only the rows read become resident, as before; their huge pages at
    /// either end are copied.
    pub fn make_resident(&mut self, skip: &[std::ops::Range<usize>]) -> Result<bool, GgufError> {
        #[cfg(target_os = "linux")]
        {
            let io = |source| GgufError::Io {
                path: self.path.clone(),
                source,
            };
            match &self.backing {
                Backing::Placed(_) => Ok(true),
                Backing::Owned(_) => Ok(false),
                Backing::Mmap(m, file) => {
                    let placed = Placed::map(file, m.len()).map_err(io)?;
                    let ranges = crate::resident::to_copy(m.len(), skip);
                    placed.start_copy(file.try_clone().map_err(io)?, ranges);
                    self.backing = Backing::Placed(placed);
                    Ok(true)
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = skip;
            Ok(false)
        }
    }

    /// Whether the bytes are held in memory by [`GgufFile::make_resident`]
    /// now (its copy has finished).
    pub fn is_resident(&self) -> bool {
        match &self.backing {
            #[cfg(target_os = "linux")]
            Backing::Placed(p) => p.is_resident(),
            _ => false,
        }
    }

    /// Whether a copy [`GgufFile::make_resident`] started gave up (a file cut
    /// short under it, no thread or memory to be had): the file stays mapped.
    pub fn copy_failed(&self) -> bool {
        match &self.backing {
            #[cfg(target_os = "linux")]
            Backing::Placed(p) => p.failed(),
            _ => false,
        }
    }

    /// Whether [`GgufFile::make_resident`] started a copy (finished or not).
    pub fn copy_started(&self) -> bool {
        match &self.backing {
            #[cfg(target_os = "linux")]
            Backing::Placed(_) => true,
            _ => false,
        }
    }

    /// Wait for a copy [`GgufFile::make_resident`] started to finish;
    /// whether the bytes are then held in memory (false: none was started,
    /// or it failed and the file stays mapped).
    pub fn wait_resident(&self) -> bool {
        match &self.backing {
            #[cfg(target_os = "linux")]
            Backing::Placed(p) => p.wait(),
            _ => false,
        }
    }

    /// An `Invalid` error about this file (for callers that find a
    /// semantically wrong file, e.g. a missing tensor).
    pub fn invalid(&self, what: impl Into<String>) -> GgufError {
        GgufError::Invalid {
            path: self.path.clone(),
            what: what.into(),
        }
    }
}
