"""The fixed multilingual probe set of the parity gate.

Fixed forever (changing it changes every recorded parity figure): 48 sentences in 12 languages and 8
scripts (Latin, Cyrillic, Greek, Arabic, Hebrew, Devanagari, CJK, Thai), short and long, with digits,
punctuation, an emoji and a near-empty input, so tokenizer edge cases and length-dependent padding
are both exercised. Groups of four are translations of each other, which gives nearest-neighbour
agreement something to measure.
"""

from __future__ import annotations

PROBE_SENTENCES: tuple[str, ...] = (
    # en / de / fr / es
    "The cat is sleeping on the warm windowsill.",
    "Die Katze schläft auf der warmen Fensterbank.",
    "Le chat dort sur le rebord de fenêtre chaud.",
    "El gato duerme en el alféizar cálido.",
    "Where is the nearest train station, please?",
    "Wo ist bitte der nächste Bahnhof?",
    "Où est la gare la plus proche, s'il vous plaît ?",
    "¿Dónde está la estación de tren más cercana, por favor?",
    "In 2019 the company sold 3,500 bicycles and 1.2 million spare parts across 14 countries.",
    "Im Jahr 2019 verkaufte das Unternehmen 3.500 Fahrräder und 1,2 Millionen Ersatzteile in 14 Ländern.",
    "En 2019, l'entreprise a vendu 3 500 vélos et 1,2 million de pièces détachées dans 14 pays.",
    "En 2019 la empresa vendió 3.500 bicicletas y 1,2 millones de repuestos en 14 países.",
    # ru / el / ar / he
    "Я люблю читать книги по вечерам.",
    "Μου αρέσει να διαβάζω βιβλία τα βράδια.",
    "أحب قراءة الكتب في المساء.",
    "אני אוהב לקרוא ספרים בערבים.",
    "Погода сегодня очень хорошая, пойдём гулять в парк.",
    "Ο καιρός είναι πολύ καλός σήμερα, πάμε βόλτα στο πάρκο.",
    "الطقس جميل جدا اليوم، لنذهب للتنزه في الحديقة.",
    "מזג האוויר נהדר היום, בוא נלך לטייל בפארק.",
    # hi / zh / ja / th
    "मुझे सुबह चाय पीना पसंद है।",
    "我喜欢早上喝茶。",
    "私は朝にお茶を飲むのが好きです。",
    "ฉันชอบดื่มชาในตอนเช้า",
    "यह पुस्तकालय शहर के केंद्र में स्थित है और रविवार को बंद रहता है।",
    "这个图书馆位于市中心，星期日不开放。",
    "この図書館は市の中心部にあり、日曜日は休館です。",
    "ห้องสมุดนี้ตั้งอยู่ใจกลางเมืองและปิดในวันอาทิตย์",
    # mixed and edge cases
    "OK",
    "!",
    "Hello 👋 world — naïve café, coöperate, Ångström, 10°C.",
    "GPU inference with ONNX Runtime: batch=32, seq_len=128, fp16 vs int8.",
    "Thank you very much for your help yesterday.",
    "Vielen Dank für deine Hilfe gestern.",
    "Merci beaucoup pour ton aide hier.",
    "Muchas gracias por tu ayuda ayer.",
    "Спасибо большое за вашу помощь вчера.",
    "شكرا جزيلا على مساعدتك أمس.",
    "昨天非常感谢你的帮助。",
    "昨日は手伝ってくれて本当にありがとう。",
    (
        "A very long sentence keeps going, clause after clause, listing apples, pears, plums, cherries, "
        "apricots, peaches and grapes, so that the encoder sees a sequence far longer than the others in "
        "its batch and padding has to be handled correctly by every backend that computes embeddings."
    ),
    (
        "Ein sehr langer Satz geht immer weiter, Nebensatz um Nebensatz, und zählt Äpfel, Birnen, Pflaumen, "
        "Kirschen, Aprikosen, Pfirsiche und Trauben auf, damit der Encoder eine lange Sequenz sieht."
    ),
    "Science advances one funeral at a time.",
    "La science avance un enterrement à la fois.",
    "La ciencia avanza un funeral a la vez.",
    "Die Wissenschaft schreitet mit jeder Beerdigung voran.",
    "Наука продвигается вперёд с каждыми похоронами.",
    "科学每次进步一个葬礼。",
)
