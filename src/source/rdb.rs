//! An RDB's records, in file order, one at a time. (Commands that only need
//! keys and can use every core go through `event::parallel` instead.)

use super::{ModuleAux, Source, VisitOptions, Visitor};
use crate::error::{Error, ErrorKind, Integrity, Result};
use crate::event::{Event, RdbReader};

pub(super) fn visit(source: &mut Source, opts: &VisitOptions, v: &mut dyn Visitor) -> Result<()> {
    let mut input = source.open_input()?;
    let name = input.name.clone();
    let mut reader = RdbReader::new(&mut input, opts.reader);
    let mut begun = false;
    loop {
        // Hand mapped pages behind the reader back to the kernel, as check and
        // dump do: RSS stays flat whatever the input size.
        if reader.release_behind() {
            v.progress(reader.offset());
        }
        let Some(event) = reader.next()? else { break };
        if let Event::Header { version, .. } = event {
            v.begin(Some(version))?;
            begun = true;
            continue;
        }
        if !begun {
            return Err(Error::new(ErrorKind::Integrity(Integrity::NoHeader)));
        }
        match event {
            Event::Aux { key, value } => v.aux(&key, &value)?,
            Event::Function { code } => v.function(&code).map_err(|e| e.in_file(&name))?,
            Event::SelectDb { db } => v.select_db(db)?,
            Event::ResizeDb { keys, expires } => v.resize_db(keys, expires)?,
            Event::ModuleAux { .. } => {
                let aux = ModuleAux::of(&event).expect("a module aux event");
                v.module_aux(&aux).map_err(|e| e.in_file(&name))?;
            }
            Event::Key(k) if opts.selects(k.db, &k.key, k.value.key_type(), k.attrs.expire_at_ms) => {
                v.key(k.db, &k.key, &k.attrs, &k.value).map_err(|e| e.in_file(&name).at(k.offset))?
            }
            Event::End { .. } => return v.end(),
            _ => {}
        }
    }
    Err(Error::new(ErrorKind::Truncated).in_file(&name))
}
