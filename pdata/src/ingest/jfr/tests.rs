use super::*;

#[test]
fn adhoc_real_file() {
    let Ok(path) = std::env::var("JFR_FILE") else {
        return;
    };
    let bytes = std::fs::read(path).unwrap();
    let out = to_pprof(&bytes, &LabelsSnapshot::default(), &JfrInput::default()).unwrap();
    println!("event {:?}", out.event);
    for p in &out.profiles {
        let total: Vec<i64> = (0..p.profile.sample_type.len())
            .map(|i| p.profile.sample.iter().map(|s| s.value[i]).sum())
            .collect();
        println!(
            "{:?} {} samples {} totals {:?}",
            p.kind,
            p.metric(),
            p.profile.sample.len(),
            total
        );
        if let Some(s) = p.profile.sample.iter().max_by_key(|s| s.value[0]) {
            for l in s.location_id.iter().take(6) {
                let loc = &p.profile.location[*l as usize - 1];
                let f = &p.profile.function[loc.line[0].function_id as usize - 1];
                println!(
                    "   {}:{}",
                    p.profile.string_table[f.name as usize], loc.line[0].line
                );
            }
        }
    }
}
