//! The manifest next to each model file, and what it records from the GGUF.

use crate::error::StoreError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// `<store>/<name>/<tag>.json`, next to `<tag>.gguf`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub name: String,
    pub tag: String,
    /// Where the bytes came from: `pip:...`, `hf.co/...`, a URL, or `import:PATH`.
    pub source: String,
    pub sha256: String,
    pub size: u64,
    pub architecture: String,
    /// Human form (`494M`, `1.5B`).
    pub parameters: String,
    pub parameter_count: u64,
    pub quantization: String,
    pub license: String,
    /// RFC 3339, UTC.
    pub added: String,
    /// The GGUF file's name inside the store directory (`<tag>.gguf`).
    pub file: String,
    /// For a model made by `hearth create` (a Modelfile): what it sets.
    /// Its GGUF is the model it was created from, linked, not copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modelfile: Option<crate::modelfile::ModelDefaults>,
}

impl Manifest {
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }

    pub fn read(path: &Path) -> Result<Manifest, StoreError> {
        let text = std::fs::read_to_string(path).map_err(|e| StoreError::CorruptManifest {
            path: path.into(),
            msg: e.to_string(),
        })?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| StoreError::CorruptManifest {
            path: path.into(),
            msg: e.to_string(),
        })?;
        if m.sha256.len() != 64
            || m.file.contains(['/', '\\'])
            || m.file.is_empty()
            || m.file.starts_with('.')
        {
            return Err(StoreError::CorruptManifest {
                path: path.into(),
                msg: "bad sha256 or file field".into(),
            });
        }
        match crate::name::parse_name(&format!("{}:{}", m.name, m.tag)) {
            Ok((n, Some(t))) if n == m.name && t == m.tag => {}
            _ => {
                return Err(StoreError::CorruptManifest {
                    path: path.into(),
                    msg: format!("bad name {:?} or tag {:?}", m.name, m.tag),
                })
            }
        }
        Ok(m)
    }
}

/// What the store reads out of a GGUF file.
#[derive(Clone, Debug)]
pub struct GgufInfo {
    pub architecture: String,
    pub parameter_count: u64,
    pub quantization: String,
    pub license: Option<String>,
    pub context_length: Option<u64>,
    pub has_template: bool,
}

/// Open and validate a GGUF file and summarise it.
pub fn inspect(path: &Path) -> Result<(gguf::GgufFile, GgufInfo), StoreError> {
    let f = gguf::GgufFile::open(path).map_err(|source| StoreError::NotGguf {
        path: path.into(),
        source,
    })?;
    let architecture = f.architecture().unwrap_or("unknown").to_string();
    let parameter_count: u64 = f.tensors.iter().map(|t| t.n_elements()).sum();
    let mut by_type: std::collections::BTreeMap<&'static str, u64> = Default::default();
    for t in f.tensors.iter().filter(|t| t.dims.len() >= 2) {
        *by_type.entry(t.ty.name()).or_default() += t.n_elements();
    }
    // The file's own word (`general.file_type`, what llama.cpp and the
    // server report) first; a mixed file's most common matrix type told
    // another story (a Q4_K_M file is mostly Q5_0 by count in gemma3).
    let quantization = f
        .get_u64("general.file_type")
        .map(file_type_name)
        .or_else(|| by_type.iter().max_by_key(|x| *x.1).map(|x| x.0.to_string()))
        .unwrap_or_else(|| "unknown".into());
    let license = f.get_str("general.license").map(str::to_string);
    let context_length = f.get_u64(&format!("{architecture}.context_length"));
    let has_template = f.get_str("tokenizer.chat_template").is_some();
    if f.tensors.is_empty() {
        return Err(StoreError::BadFile {
            path: path.into(),
            msg: "the GGUF file has no tensors, so it is not a model".into(),
        });
    }
    Ok((
        f,
        GgufInfo {
            architecture,
            parameter_count,
            quantization,
            license,
            context_length,
            has_template,
        },
    ))
}

/// The name of a `general.file_type` number (llama.cpp's `enum llama_ftype`
/// in `include/llama.h`; the names Ollama shows as `quantization_level`).
pub fn file_type_name(t: u64) -> String {
    match t {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4",
        _ => return format!("type{t}"),
    }
    .to_string()
}

/// `135M`, `1.5B`.
pub fn human_params(n: u64) -> String {
    let x = n as f64;
    if x >= 1e9 {
        format!("{:.1}B", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.0}M", x / 1e6)
    } else {
        format!("{:.0}K", x / 1e3)
    }
}

/// Now as RFC 3339 UTC (`2026-01-02T03:04:05Z`).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Seconds since the epoch as RFC 3339 UTC.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(super::human_params(494_032_768), "494M");
        assert_eq!(super::human_params(1_543_714_304), "1.5B");
    }
}
