"""The words for deleting, emptying, removing and creating, written once for the rules that read them.

- `DESTRUCTIVE` (what reads as a destructive request: `contract.safety`) knows English and the commonest
  verbs for deleting and emptying in twenty-odd other languages and in Chinese, Japanese and Korean.
- `REMOVAL` (a request to take one quoted thing out of a file: `contract.copying`, `contract.cues`) knows
  the same deleting verbs, plus the everyday ones for taking something out ("get rid of", "togli",
  "quita", "消して").

- `CREATE_BEFORE`, `CREATE_AFTER` and `ADD_BEFORE` (a request to create a file it names: `contract.cues`)
  know the verbs for creating a file in English and twenty-odd other languages: those that come before the
  file's name, those that come after it (Hindi, Turkish, Korean, Japanese, Persian), and the looser ones
  ("add", "make", "write") that count only when the content follows the name ("make x.txt with ...").

All are keywords, a first line of defence, not a classifier.
"""

from __future__ import annotations

import re

_DELETE_BEYOND_ENGLISH = (
    # Portuguese, Spanish, French, German, Italian (with their plural and formal imperatives).
    r"apagar|apague|apaguem|apaga|deletar|delete[mn]|borrar|borr[aeá]|borren|borrad|eliminar|elimin[aeá]|eliminen|"
    r"eliminad|supprimer|supprim(?:e|ez|ons)|effacer|effac(?:e|ez|ons)|l[öo]schen|l[öo]sch(?:e|t)?|entfernen|entferne|"
    r"droppen|droppe|gedroppt|cancellare|cancella|cancellate|eliminare|eliminate|"
    # Spanish built on the English verbs ("dropea la tabla", "deletea el bucket").
    r"drope[aá]|dropear|dropeen|deletea|deletear|"
    # Polish, Dutch, Russian (and its borrowed "дропни"), Turkish (the stem and its commonest forms), Vietnamese.
    r"usuń|usunąć|usuwać|usuwaj|skasuj|skasować|verwijder|verwijderen|weggooien|gooi\b[^.?!\n]{0,60}\bweg|"
    r"удали|удалить|удалите|дропни|дропните|дропнуть|дропай|"
    r"sil(?:in|iniz|mek|ebilir|ebilirsin|ebilirsiniz|er|elim|sene)?|xóa|xoá|"
    # Swedish, Danish and Norwegian, Finnish, Hungarian, Romanian, Czech, Slovak, Ukrainian, Greek.
    r"radera|raderar|droppa|ta\s+bort|slet|slett|slette|poista|töröld|törölje|töröl|șterge|sterge|"
    r"smaž|smažte|smazat|vymaž|vymazat|odstraň|odstranit|zmaž|zmažte|zmazať|vymažte|odstráň|odstráňte|odstrániť|видали|видалити|διάγραψε|διαγράψτε|σβήσε|"
    # Hebrew, Arabic, Indonesian and Malay, Hindi-English, Arabic written in Latin letters (Arabizi).
    r"מחק|תמחק|למחוק|احذف|امسح|hapus|hapuskan|menghapus|buang|hata\s+do|mita\s+do|e7zef|i7zef|emsa7|imsa7|"
    # Serbian, Croatian and Bosnian, Slovenian, Catalan, Lithuanian, Swahili, Malay.
    r"obriši|obrišite|obrisati|izbriši|izbrišite|izbrisati|pobriši|esborra|esborrar|esborreu|ištrink|ištrinkite|"
    r"ištrinti|futa|futeni|padam|padamkan|"
    # Estonian, Icelandic.
    r"kustuta|kustutage|kustutada|eyddu|eyðið|eyða"
)
"""The commonest verbs for deleting, in twenty-odd languages other than English (words set off by spaces)."""

_DELETE_CJK = r"削除|删除|消去|消して|消し(?:ちゃ|とい|てお)|消す|삭제"
"""The same in Chinese, Japanese and Korean, whose words are not set off by spaces: no word boundaries."""

DESTRUCTIVE = re.compile(
    r"\b(delete|deleting|remove|removing|rm\s+[-\w./~*]+|delete(?:many|all|_many|_all)|rmdir|rmtree|unlink|(?<!drag\sand\s)(?<!drag\s&\s)(?<!drag-and-)(?<!drag\sn\s)drop(?![-\s]down\b)|wipe|erase|purge|prune|destroy|truncate|"
    r"nuke|shred|overwrite|uninstall|flush|flushall|flushdb|dropdb|empty\s+(?:the|out|[a-z0-9]+://)|tear\s+(?:\w+\s+){0,3}down|clear\s+(?:out|the)|blow\s+away|get\s+rid\s+of|"
    r"force[- ]push|push\s+(?:-f|--force)|reset\s+--hard|clean\s+-[a-z]*f[a-z]*|branch\s+-d|kill\s+-9|postsuper\s+-d|"
    r"format\s+(?:the\s+)?disk|xtrim|trim\b[^.?!\n]{0,60}\bto\s+(?:zero|0)|"
    + _DELETE_BEYOND_ENGLISH + "|"
    # Emptying: Portuguese, Spanish, French, German, Italian, Polish, Dutch, Russian, Turkish; Swedish,
    # Finnish, Czech, Greek, Hebrew, Indonesian, Arabizi; Serbian and Croatian, Catalan, Lithuanian.
    r"esvaziar|esvazi[ae]|esvaziem|vaciar|vac[ií][aeá]|vac[ií]en|vaciad|vider|videz|vide\s+(?:le|la|les)|leeren|"
    r"svuotare|svuota|svuotate|"
    r"wyczyść|wyczyścić|opróżnij|opróżnić|leegmaken|maak\s+leeg|очисти|очистить|boşalt|boşaltın|boşaltmak|"
    r"töm|tömma|tyhjennä|vyprázdni|vyprázdnit|άδειασε|רוקן|kosongkan|kosongin|fa22y|fa2y|"
    # Serbian and Croatian, Catalan, Lithuanian; Estonian, Icelandic; Portuguese and Spanish "clean" said of a
    # store ("limpa a cache redis"), not of code.
    r"isprazni|ispraznite|buida|buidar|buideu|išvalyk|ištuštink|tühjenda|tühjendage|tühjendada|tæmdu|tæmið|tæma|"
    r"limp(?:a|ar|e|em|ia|iar|ien)\s+(?:(?:a|o|as|os|la|el|las|los|toda|todo|todas|todos)\s+)*"
    r"(?:cache|caché|fila|filas|cola|colas|tabela|tabla|base|banco|bucket|redis|logs?|sess[õo]es|sesiones|dados|datos))\b"
    r"|(" + _DELETE_CJK + r"|清空|비워)",
    re.IGNORECASE,
)

REMOVAL = re.compile(
    r"\b(?:remove|delete|drop|take\s+out|get\s+rid\s+of|strip|rip\s+out|nuke|kill|"
    r"rimuovi|togli|quita|quitar|saca|remova|enlève|enleve|retire|haal\s+\S+\s+weg|"
    + _DELETE_BEYOND_ENGLISH + r")\b|" + _DELETE_CJK + r"|消す|删掉|去掉|지워",
    re.IGNORECASE,
)

CREATE_BEFORE = re.compile(
    r"\b(?:create|touch|new\s+file|put\s+(?:this|that|it|the\s+following)\s+(?:in|into|to|at)|"
    r"save\s+(?:this|it)\s+(?:as|to|in)|"
    # Polish, Czech, Slovak, Swedish, Danish, German, Portuguese, Spanish, Italian, French, Indonesian,
    # Vietnamese, Greek, Arabizi, Russian, Ukrainian, Finnish, Romanian, Tagalog, Icelandic, Estonian.
    r"utwórz|stwórz|vytvoř|vytvořte|vytvor|vytvorte|skapa|opret|erstelle|erstell|anlegen|cri[ae]|criar|crea|"
    r"crear|créame|crée|créer|créez|buat|bikin|buatkan|tạo|φτιάξε|δημιούργησε|e3mel|a3mel|создай|створи|luo|"
    r"creează|gumawa|mag-create|búðu\s+til|búið\s+til|búa\s+til|loo)\b|"
    # Hebrew, Arabic, Thai, Chinese (no word boundaries).
    r"תיצור|צור|أنشئ|สร้าง|创建|新建",
    re.IGNORECASE,
)
"""Verbs for creating a file that come before its name ("create src/x.py", "utwórz plik src/x.py")."""

CREATE_AFTER = re.compile(
    r"\b(?:bana\s+do|banao|bana\s+de|oluştur|besaz|bsaz|dorost\s+kon)\b|만들어|생성|作って|作成|作る|创建|新建",
    re.IGNORECASE,
)
"""Verbs for creating a file that come after its name (`x.txt bana do`, `x.py 파일 만들어줘`)."""

ADD_BEFORE = re.compile(
    r"\b(?:add|make|write|overwrite|dodaj|pridaj|přidej|lägg\s+till|lag|leg|maak|ajoute|aggiungi|agrega|añade|"
    r"adicione|thêm|πρόσθεσε|gawa)\b",
    re.IGNORECASE,
)
"""Looser verbs ("add", "make", "write"), which create a file only when its content follows its name."""
