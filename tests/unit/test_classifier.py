"""The event model on hand-written passages: every type found, hard negatives left alone."""

from __future__ import annotations

import itertools
import re

import pytest

from models.classifier import Document, EventModel
from models.head import ArtifactError
from tumen.profile import EventTypeSpec, load_profile

POSITIVES = {
    "arms_transfer": [
        "Pyongyang shipped another consignment of artillery shells and rockets to Russia this "
        "month, according to intelligence officials in Seoul.",
        "Moscow paid for the North Korean ballistic missiles with oil and wheat, a defence "
        "ministry spokesman said.",
    ],
    "troop_deployment": [
        "Thousands of North Korean soldiers were sent to the Kursk region to fight alongside "
        "Russian forces, Ukrainian intelligence said.",
        "Some North Korean troops deployed in Russia have been killed or wounded in combat.",
    ],
    "labor_dispatch": [
        "Hundreds of North Korean construction workers arrived in Vladivostok to work on "
        "building sites despite the UN ban on overseas labour.",
        "Russia is recruiting North Korean labourers for its factories and farms in the Far East.",
    ],
    "trade_logistics": [
        "A freight train carrying coal and fertiliser crossed the Tumen River bridge from "
        "Khasan to Rajin on Tuesday, opening a new rail route.",
        "Cargo volumes through the port of Rajin doubled this year as Russian ships delivered "
        "grain and fuel to North Korea.",
    ],
    "sanctions_evasion": [
        "The tanker switched off its transponder and transferred oil to a North Korean vessel in "
        "a ship-to-ship transfer banned by UN sanctions.",
        "The Treasury Department designated three front companies that laundered money for "
        "Pyongyang's weapons programme.",
    ],
    "diplomatic_engagement": [
        "Kim Jong Un and Vladimir Putin signed a comprehensive strategic partnership treaty at "
        "their summit in Pyongyang.",
        "A Russian delegation led by the foreign minister arrived in Pyongyang for talks with "
        "North Korean officials.",
    ],
    "weapons_test": [
        "North Korea test-fired an intercontinental ballistic missile that flew for 70 minutes "
        "before landing in the sea east of the peninsula.",
        "Pyongyang launched a military reconnaissance satellite on a new rocket early on "
        "Wednesday, Japan's defence ministry said.",
    ],
    "border_security": [
        "A North Korean soldier defected by walking across the heavily fortified border into "
        "South Korea.",
        "China tightened controls along its border with North Korea and arrested dozens of "
        "smugglers crossing the Yalu River.",
    ],
}

PLAIN_NEGATIVES = [
    "Rice prices in Pyongyang markets rose sharply in the spring, traders said.",
    "The weather in Wonsan was warm and sunny for most of the week.",
]
HARD_NEGATIVES = [
    # A capability description: read as a test until the neighbour vote came in.
    "The Hwasong-18 is a solid-fuel missile with an estimated range of 15,000 kilometres.",
    "The Workers' Party of Korea held a plenary meeting on agricultural policy.",
    *PLAIN_NEGATIVES,
    "Analysts say the relationship between the two countries has deep historical roots.",
    "North Korea held a military parade in Kim Il Sung Square to mark the army's anniversary.",
    # The rest of the list of hard negatives, each in words the training data lacks.
    "The club completed the transfer of its new striker for a fee of 40 million euros on "
    "deadline day.",
    "Police said a man fired several shots at a passing car in the city centre late on "
    "Saturday; no one was hurt.",
    "Rail workers in France walked out on Tuesday in a strike over pensions, halting most trains.",
    "A passenger train derailed near Novosibirsk, injuring a dozen people, the operator said.",
    "China's retail sales rose 4 percent in October from a year earlier, the statistics bureau "
    "said.",
    "Congress approved an extra 2 billion dollars for missile-defence interceptors in next "
    "year's budget.",
    "Arms-control experts debated at a conference how a future treaty could limit hypersonic "
    "missiles.",
    # Publisher boilerplate at the foot of a feed item.
    "Our reporters work with informants inside North Korea and China whose identities we "
    "protect for their safety. Translated and edited by the news desk.",
]


@pytest.fixture(scope="module")
def model() -> EventModel:
    return EventModel.load()


def _types(model: EventModel, text: str, title: str = "") -> set[str]:
    return {e.type for e in model.classify([Document("t", text, title)])[0]}


@pytest.mark.parametrize(
    ("expected", "text"), [(t, text) for t, texts in POSITIVES.items() for text in texts]
)
def test_each_type_is_found(model: EventModel, expected: str, text: str) -> None:
    assert expected in _types(model, text)


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_hard_negatives_stay_negative(model: EventModel, text: str) -> None:
    assert _types(model, text) == set()


def test_events_carry_exact_offsets_and_extracted_fields(model: EventModel) -> None:
    text = (
        "Weather was mild on Monday. North Korea sent 2,000 workers to Russia's Far East last "
        "week, officials said. Separately, Pyongyang fired two short-range ballistic missiles "
        "into the East Sea."
    )
    events = model.classify([Document("a", text)])[0]
    assert {e.type for e in events} >= {"labor_dispatch", "weapons_test"}
    for event in events:
        assert text[event.start : event.end] == event.evidence
        assert 0.0 <= event.confidence <= 1.0
    workers = next(e for e in events if e.type == "labor_dispatch")
    assert "North Korea" in workers.actors


def test_same_type_detections_never_overlap(model: EventModel) -> None:
    text = " ".join(POSITIVES["weapons_test"] * 3)
    events = model.classify([Document("b", text)])[0]
    spans = sorted((e.start, e.end) for e in events if e.type == "weapons_test")
    assert spans
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_title_only_detection_has_an_empty_span(model: EventModel) -> None:
    title = "North Korea fires ballistic missile into the sea off its east coast"
    events = model.classify([Document("c", "", title=title)])[0]
    assert [(e.type, e.start, e.end, e.evidence) for e in events] == [("weapons_test", 0, 0, title)]


def test_batching_does_not_change_results(model: EventModel) -> None:
    texts = [*PLAIN_NEGATIVES[:2], *POSITIVES["labor_dispatch"], *POSITIVES["weapons_test"]]
    docs = [Document(str(i), text) for i, text in enumerate(texts)]
    together = model.classify(docs)
    alone = [model.classify([d])[0] for d in docs]
    assert [[(e.type, e.start, e.end) for e in x] for x in together] == [
        [(e.type, e.start, e.end) for e in x] for x in alone
    ]


def test_empty_and_garbage_documents(model: EventModel) -> None:
    assert model.classify([]) == []
    assert model.classify([Document("e", ""), Document("f", "\x00\x01 <br/> 1234")]) == [[], []]


def test_model_version_names_encoder_head_and_profile(model: EventModel) -> None:
    assert re.fullmatch(
        r"minilm-l6-v2@[0-9a-f]{8}\+head@[0-9a-f]{12}\+dprk-russia@[0-9a-f]{8}", model.model_version
    )
    assert EventModel.load() is model  # loaded once per process


def test_profile_with_other_types_is_refused() -> None:
    profile = load_profile()
    other = profile.model_copy(
        update={"event_types": [EventTypeSpec(name="alien_landing", definition="Aliens land.")]}
    )
    with pytest.raises(ArtifactError, match="differ"):
        EventModel.load(profile=other)
