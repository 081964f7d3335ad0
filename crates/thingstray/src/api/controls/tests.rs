use super::*;
use serde_json::json;

/// A real status payload from the pysmartthings fixtures (tests/fixtures/NOTICE.md).
fn fixture(name: &str) -> DeviceStatus {
    let path = format!("{}/tests/fixtures/device_status/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    DeviceStatus::from_status_body(&v).unwrap()
}

fn main(v: Value) -> DeviceStatus {
    DeviceStatus::from_status_body(&json!({"components": {"main": v}})).unwrap()
}

fn get<'a>(cs: &'a [Control], key: &str) -> &'a Control {
    cs.iter().find(|c| c.key == key).unwrap_or_else(|| panic!("no {key} in {cs:#?}"))
}

fn code(r: Result<()>) -> &'static str {
    r.err().map_or("ok", |e| e.code())
}

#[test]
fn a_lock_locks_at_once_and_unlocks_only_when_confirmed() {
    let cs = fixture("base_lock").controls();
    let lock = get(&cs, "lock");
    assert_eq!((lock.kind, lock.value.as_ref()), (Kind::Buttons, Some(&json!("locked"))));
    assert_eq!(lock.commands, [act("lock", "Lock"), ask("unlock", "Unlock")]);
    assert_eq!(code(lock.check("Front Door", "lock", &[], false)), "ok");
    let refused = lock.check("Front Door", "unlock", &[], false).unwrap_err();
    assert_eq!(refused.code(), "needs_confirmation");
    assert!(refused.to_string().contains("unlock Front Door"), "{refused}");
    assert_eq!(code(lock.check("Front Door", "unlock", &[], true)), "ok");
    assert_eq!(code(lock.check("Front Door", "lock", &[json!(1)], false)), "invalid_argument");
    assert_eq!(code(lock.check("Front Door", "explode", &[], true)), "unsupported_control");
}

#[test]
fn a_lock_or_door_in_an_unknown_or_stale_state_has_no_value() {
    for (status, why) in [
        (json!({"lock": {"lock": {"value": "unknown"}}}), "unknown"),
        (json!({"lock": {"lock": {"value": "jammed"}}}), "jammed"),
        (json!({"lock": {"lock": {"value": null}}}), "null"),
        (json!({"lock": {"lock": {"value": {"odd": 1}}}}), "an object"),
    ] {
        assert_eq!(get(&main(status).controls(), "lock").value, None, "{why}");
    }
    // Offline: the last value may be hours old; a closed garage door is not claimed.
    let mut d = Device::from_json(
        &json!({"deviceId": "g", "components": [{"id": "main", "capabilities": [{"id": "garageDoorControl"}]}]}),
    )
    .unwrap();
    d.status = Some(main(json!({"garageDoorControl": {"door": {"value": "closed"}}})));
    assert_eq!(get(&d.controls(), "garage").value, Some(json!("closed")));
    d.online = Some(false);
    assert_eq!(get(&d.controls(), "garage").value, None);
    assert!(get(&d.controls(), "garage").commands[0].confirm, "opening asks first");
}

#[test]
fn setpoints_use_the_reported_range_else_a_default_for_their_unit() {
    let ecobee = fixture("ecobee_thermostat").controls();
    let heat = get(&ecobee, "heat");
    assert_eq!((heat.value.as_ref(), heat.unit.as_deref()), (Some(&json!(71)), Some("F")));
    assert_eq!(
        (heat.min, heat.max, heat.step),
        (Some(40.0), Some(95.0), Some(1.0)),
        "no range reported: the F default"
    );
    assert_eq!(get(&ecobee, "mode").choices, ["off", "cool", "auxheatonly", "auto"]);

    let reported = main(json!({"thermostatHeatingSetpoint": {
        "heatingSetpoint": {"value": 20.5, "unit": "C"},
        "heatingSetpointRange": {"value": {"minimum": 7, "maximum": 28, "step": 0.5}, "unit": "C"}}}))
    .controls();
    let heat = get(&reported, "heat");
    assert_eq!((heat.min, heat.max, heat.step), (Some(7.0), Some(28.0), Some(0.5)));
    assert_eq!(code(heat.check("Hall", "setHeatingSetpoint", &[json!(28)], false)), "ok");
    let e = heat.check("Hall", "setHeatingSetpoint", &[json!(29)], false).unwrap_err();
    assert_eq!(e.code(), "out_of_range");
    assert_eq!(e.to_string(), "Hall: Heat to must be between 7 and 28 °C; 29 °C was not sent.");
    assert_eq!(code(heat.check("Hall", "setHeatingSetpoint", &[json!("warm")], false)), "invalid_argument");

    // A real air conditioner that reports its range.
    let samsung = fixture("da_ac_rac_01001").controls();
    let cool = get(&samsung, "cool");
    assert_eq!((cool.min, cool.max, cool.step, cool.unit.as_deref()), (Some(16.0), Some(30.0), Some(1.0), Some("C")));

    // The shared range of `thermostatSetpoint` serves a cooling setpoint too.
    let shared = main(json!({
        "thermostatCoolingSetpoint": {"coolingSetpoint": {"value": 24, "unit": "C"}},
        "thermostatSetpoint": {"thermostatSetpointRange": {"value": {"minimum": 16, "maximum": 30}, "unit": "C"}}}))
    .controls();
    assert_eq!((get(&shared, "cool").min, get(&shared, "cool").max), (Some(16.0), Some(30.0)));

    // A nonsense range (min above max, a step wider than everything): the default.
    let virt = fixture("virtual_thermostat").controls();
    assert_eq!((get(&virt, "heat").min, get(&virt, "heat").max), (Some(40.0), Some(95.0)));
    let ac = fixture("da_ac_rac_000001").controls();
    // Samsung's AC leaves coolingSetpointRange null and reports 16-30 °C apart, in
    // custom.thermostatSetpointControl: that range, not the 5-35 °C default.
    assert_eq!(
        (get(&ac, "cool").min, get(&ac, "cool").max, get(&ac, "cool").unit.as_deref()),
        (Some(16.0), Some(30.0), Some("C"))
    );
    assert_eq!(get(&ac, "ac-mode").choices, ["cool", "dry", "wind", "auto", "heat"]);
    let ac_mode = get(&ac, "ac-mode");
    assert_eq!(code(ac_mode.check("AC", "setAirConditionerMode", &[json!("dry")], false)), "ok");
    assert_eq!(code(ac_mode.check("AC", "setAirConditionerMode", &[json!("turbo")], false)), "invalid_argument");
}

#[test]
fn a_mode_without_a_reported_list_offers_no_choice() {
    // The simulator's Netatmo and Sensibo report no list: a guessed mode could be refused
    // or, worse, accepted and wrong.
    let sensibo = fixture("sensibo_airconditioner_1").controls();
    assert!(sensibo.iter().all(|c| c.key != "ac-mode"), "{sensibo:#?}");
    assert!(sensibo.iter().any(|c| c.key == "cool"), "the setpoint stays");
}

#[test]
fn shades_media_volume_mute_and_colour() {
    let shade = main(json!({
        "windowShade": {"windowShade": {"value": "partially open"}, "supportedWindowShadeCommands": {"value": ["open", "close"]}},
        "windowShadeLevel": {"shadeLevel": {"value": 40, "unit": "%"}}}))
    .controls();
    let buttons: Vec<_> = get(&shade, "shade").commands.iter().map(|a| a.command).collect();
    assert_eq!(buttons, ["open", "close"], "only what the device lists");
    assert!(get(&shade, "shade").commands.iter().all(|a| !a.confirm), "a shade is not a door");
    assert_eq!(get(&shade, "shade-level").value, Some(json!(40)));
    assert_eq!(
        code(get(&shade, "shade-level").check("Curtain", "setShadeLevel", &[json!(101)], false)),
        "out_of_range"
    );

    let sonos = fixture("sonos_player").controls();
    assert_eq!(get(&sonos, "media").commands.len(), 3);
    assert_eq!((get(&sonos, "volume").value.as_ref(), get(&sonos, "volume").max), (Some(&json!(15)), Some(100.0)));
    assert_eq!(get(&sonos, "mute").value, Some(json!("unmuted")));

    let bulb = fixture("hue_rgbw_color_bulb").controls();
    let colour = get(&bulb, "colour");
    assert_eq!(colour.value, Some(json!({"hue": 60.8072, "saturation": 60})));
    assert_eq!(code(colour.check("Bulb", "setColor", &[json!({"hue": 10, "saturation": 100})], false)), "ok");
    assert_eq!(code(colour.check("Bulb", "setColor", &[json!({"hue": 120, "saturation": 1})], false)), "out_of_range");
    assert_eq!(code(colour.check("Bulb", "setColor", &[json!(5)], false)), "invalid_argument");
}

#[test]
fn unknown_capabilities_are_ignored_and_one_bad_value_hides_nothing_else() {
    let cs = main(json!({
        "somethingNew": {"x": {"value": 1}},
        "audioVolume": {"volume": {"value": "loud"}},
        "switchLevel": {"level": {"value": 30}},
        "thermostatMode": {"thermostatMode": {"value": "heat"}, "supportedThermostatModes": {"value": "heat,cool"}},
    }))
    .controls();
    let keys: Vec<_> = cs.iter().map(|c| c.key).collect();
    assert_eq!(keys, ["level", "volume"], "no mode without a list; the odd volume is a control with no value");
    assert_eq!(get(&cs, "volume").value, None);
}

#[test]
fn a_declared_capability_without_status_still_offers_its_control() {
    let d = Device::from_json(
        &json!({"deviceId": "l", "components": [{"id": "main", "capabilities": [{"id": "lock"}, {"id": "switch"}]}]}),
    )
    .unwrap();
    let keys: Vec<_> = d.controls().iter().map(|c| (c.key, c.value.clone())).collect();
    assert_eq!(keys, [("switch", None), ("lock", None)]);
}
