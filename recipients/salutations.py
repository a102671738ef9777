"""`{salutation}`: how to address a target, by role, gender and language (a target's own text wins).

French follows protocol: the office, feminised («Madame la Députée», «Madame la Sénatrice»,
«Madame la Ministre»); English names the office where custom does ("Dear Senator Cantwell",
"Dear Representative Pelosi") and the person elsewhere ("Dear Ms Afriyie"). Without a known gender,
French greets both («Madame, Monsieur le Député») and English uses the full name.
"""

from __future__ import annotations

from recipients.models import Gender, TargetRole

_FR: dict[TargetRole, tuple[str, str]] = {  # (female, male)
    TargetRole.DEPUTY: ("Madame la Députée", "Monsieur le Député"),
    TargetRole.SENATOR: ("Madame la Sénatrice", "Monsieur le Sénateur"),
    TargetRole.MINISTER: ("Madame la Ministre", "Monsieur le Ministre"),
    TargetRole.MEP: ("Madame la Députée européenne", "Monsieur le Député européen"),
    TargetRole.REPRESENTATIVE: ("Madame la Représentante", "Monsieur le Représentant"),
    TargetRole.OTHER: ("Madame", "Monsieur"),
}
_EN_OFFICE = {
    TargetRole.SENATOR: "Dear Senator {last}",
    TargetRole.REPRESENTATIVE: "Dear Representative {last}",
    TargetRole.MINISTER: "Dear Minister {last}",
}
_EN_PERSON = {Gender.FEMALE: "Dear Ms {last}", Gender.MALE: "Dear Mr {last}", None: "Dear {name}"}


def salutation(
    *, role: TargetRole, gender: Gender | None, language: str, first_name: str, last_name: str, override: str = ""
) -> str:
    """The greeting for a target in `language` ('fr' or 'en')."""
    if override.strip():
        return override.strip()
    name = f"{first_name} {last_name}".strip()
    last = last_name or name
    if language == "fr":
        female, male = _FR[role]
        if gender is Gender.FEMALE:
            return female
        if gender is Gender.MALE:
            return male
        return "Madame, Monsieur" if role is TargetRole.OTHER else f"Madame, {male}"
    template = _EN_OFFICE.get(role) or _EN_PERSON[gender]
    return template.format(name=name, last=last)
