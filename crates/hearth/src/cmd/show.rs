//! `hearth show NAME`: what a model is.

use clap::Args;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  hearth show qwen2.5-coder\n  hearth show --verbose smollm2:135m\n  hearth show ./model.gguf\n  hearth show --modelfile mario > Modelfile   # edit, then: hearth create mario2 -f Modelfile"
)]
pub struct ShowArgs {
    /// A store name or a path to a .gguf file.
    pub model: String,
    /// Also print the chat template and every metadata key.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Print the model's Modelfile instead (what `hearth create` takes).
    #[arg(long)]
    pub modelfile: bool,
}

pub fn run(a: ShowArgs) -> anyhow::Result<()> {
    let st = store::Store::from_env();
    // a path as it is; a name by the store's rule (`hearth run` and the server's)
    let (path, manifest) = match store::name::parse_spec(&a.model) {
        Ok(store::name::Spec::Path(p)) => (p, None),
        parsed => match st.find(&a.model)? {
            Some(m) => (m.path, m.manifest),
            None => {
                parsed?;
                let m = st.find_installed(&a.model)?;
                let p = st.root.join(&m.name).join(&m.file);
                (p, Some(m))
            }
        },
    };
    if a.modelfile {
        print!("{}", store::modelfile_text(&path, manifest.as_ref()));
        return Ok(());
    }
    let (f, info) = store::inspect(&path)?;
    if let Some(m) = &manifest {
        println!("name          {}", m.reference());
        println!("source        {}", m.source);
        println!("sha256        {}", m.sha256);
        println!("added         {}", m.added);
    }
    println!("file          {}", path.display());
    println!("size          {}", store::human_bytes(f.file_size()));
    println!("architecture  {}", info.architecture);
    println!(
        "parameters    {} ({})",
        store::manifest::human_params(info.parameter_count),
        info.parameter_count
    );
    println!("quantization  {}", info.quantization);
    println!(
        "context       {}",
        info.context_length
            .map_or("unknown".into(), |c| c.to_string())
    );
    let license = info
        .license
        .clone()
        .or(manifest.as_ref().map(|m| m.license.clone()))
        .unwrap_or_else(|| "unknown".into());
    println!("license       {license}");
    if let Some(d) = manifest.as_ref().and_then(|m| m.modelfile.as_ref()) {
        let p = d.parameters.lines();
        println!("created from  {}", d.from);
        if let Some(s) = &d.system {
            println!("system        {}", s.lines().next().unwrap_or(""));
        }
        if !p.is_empty() {
            let p: Vec<String> = p.iter().map(|(k, v)| format!("{k} {v:?}")).collect();
            println!("parameters    {}", p.join(", "));
        }
        if !d.messages.is_empty() {
            println!("messages      {}", d.messages.len());
        }
        if d.template.is_some() {
            println!("template      the Modelfile's (--modelfile prints it)");
        }
    }
    let tmpl = f.get_str("tokenizer.chat_template");
    println!(
        "template      {}",
        tmpl.map_or(
            "none in the file (hearth uses a built-in one for the family, or --raw)".into(),
            |t| format!(
                "in the file ({} characters{})",
                t.len(),
                if a.verbose {
                    ""
                } else {
                    "; --verbose prints it"
                }
            )
        )
    );
    if a.verbose {
        if let Some(t) = tmpl {
            println!("\n--- chat template ---\n{t}\n---");
        }
        println!(
            "\nmetadata ({} keys, {} tensors):",
            f.metadata.len(),
            f.tensors.len()
        );
        for (k, v) in &f.metadata {
            if k == "tokenizer.chat_template" {
                continue;
            }
            println!("  {k} = {}", v.display_short(8));
        }
    }
    Ok(())
}
