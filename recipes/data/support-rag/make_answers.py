"""Writes answers.jsonl: customer questions and support answers in the house style.

House style (the behaviour the tune should learn): two or three friendly sentences, the fact
from the manual, and the manual section cited at the end as "(Manual: <section>)". The facts
live in manual/ (retrieved at run time); the rows teach the style. Seeded, so the file is stable.
Run: python make_answers.py
"""

import json
import random
from pathlib import Path

FACTS = [
    (
        "Installation",
        ["Does Aurora work without a C wire?", "My old thermostat has no common wire, can I still install Aurora?"],
        "Aurora needs a C wire for power. If you don't have one, install the power adapter kit from the box on your heating system's control board.",
    ),
    (
        "Installation",
        ["Which wire goes where?", "How do I connect the wires to the base plate?"],
        "Label each wire with the stickers in the box, then push it into the terminal with the same letter until the tab clicks.",
    ),
    (
        "Installation",
        ["Should I switch anything off before installing?"],
        "Yes, please turn the heating system off at the breaker before you remove the old thermostat.",
    ),
    (
        "Wi-Fi and the app",
        ["Why can't I see my Wi-Fi network?", "The app doesn't list my 5 GHz network."],
        "Aurora connects to 2.4 GHz networks only, so 5 GHz networks are not listed. If your router combines both bands, turn off band steering so the 2.4 GHz band shows up.",
    ),
    (
        "Wi-Fi and the app",
        ["How do I pair the thermostat with the app?", "How do I add Aurora in the app?"],
        "Open the Aurora app, tap Add device, then hold the dial pressed for 5 seconds until the ring blinks blue.",
    ),
    (
        "Wi-Fi and the app",
        ["Does the schedule still work when the internet is down?"],
        "Yes, Aurora keeps running its schedule while offline, and your changes sync once it reconnects.",
    ),
    (
        "Schedules and eco mode",
        ["How many schedule changes can I set per day?"],
        "You can set up to 6 periods per day in the app under Schedule.",
    ),
    (
        "Schedules and eco mode",
        ["What does eco mode do?", "How does away detection work?"],
        "Eco mode lowers the target to 17 °C while everyone is away, based on the phones that share their location with the app.",
    ),
    (
        "Schedules and eco mode",
        ["How do I heat the room quickly for an hour?", "Is there a boost button?"],
        "Press the dial twice to start Boost, which heats for 30, 60 or 90 minutes regardless of the schedule.",
    ),
    (
        "Schedules and eco mode",
        ["What temperature does holiday mode keep?"],
        "Holiday mode keeps your home at 12 °C until the return date you set.",
    ),
    (
        "Troubleshooting",
        ["The display is blank, what now?", "My thermostat screen stays dark."],
        "Please check the breaker first, then the C wire. A blinking red ring means the display is not getting enough power.",
    ),
    (
        "Troubleshooting",
        ["What does error E2 mean?", "My thermostat shows E2."],
        "E2 means the temperature sensor reads out of range. Remove the display for 10 seconds and snap it back on; if E2 returns, our support team will help.",
    ),
    (
        "Troubleshooting",
        ["I get error E5.", "What is error E5?"],
        "E5 means no heating demand was acknowledged. Please check that the W wire sits fully in its terminal.",
    ),
    (
        "Troubleshooting",
        ["The thermostat says it's colder than it is.", "My room gets too warm."],
        "The thermostat may sit in a sunny spot or above a radiator. You can set an offset of up to 3 °C under Settings > Sensor calibration.",
    ),
    (
        "Warranty and returns",
        ["How long is the warranty?", "Is my thermostat still under warranty after 18 months?"],
        "Aurora has a two-year warranty from the date of purchase, so keep your receipt or order number.",
    ),
    (
        "Warranty and returns",
        ["Can I return an opened thermostat?", "What is the return period?"],
        "Unopened devices can be returned within 30 days, opened ones within 14 days with all parts. Hold the dial for 20 seconds to factory reset it first.",
    ),
]
OPENERS = ["", "Hi, ", "Hello! ", "Quick question: ", "Hey there, "]
GREETINGS = ["Happy to help!", "Thanks for asking!", "Good question!", "Sure!"]


def main() -> None:
    rng = random.Random(11)
    rows = []
    for section, questions, answer in FACTS:
        for question in questions:
            for _ in range(2 if len(questions) == 1 else 1):
                opener = rng.choice(OPENERS)
                q = opener + (question[0].lower() + question[1:] if opener else question)
                reply = f"{rng.choice(GREETINGS)} {answer} (Manual: {section})"
                rows.append({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": reply}]})
    rng.shuffle(rows)
    with open(Path(__file__).with_name("answers.jsonl"), "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
