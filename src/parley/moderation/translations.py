"""The console's and the appeal page's languages: English (the source text) and Indonesian.

A template says ``{{ _("Queue") }}``: the English text is the key, and a text with no entry in
``ID`` shows in English (a unit test finds every ``_()`` of the templates here). The language is
``?lang=`` (the console remembers it in a cookie), then that cookie, then ``Accept-Language``
(``parley.pages.language``, as the public pages). Dates are formatted for the language, in UTC:
moderators in different places read the same time.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from parley.pages.language import LANGUAGES, choose_language

#: The console's language choice (not HttpOnly-sensitive: it holds "en" or "id").
LANG_COOKIE = "parley_mod_lang"

_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "id": ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"),
}
#: Seconds, minutes, hours, days (detik, menit, jam, hari).
AGE_UNITS = {"en": ("s", "m", "h", "d"), "id": ("dtk", "mnt", "j", "hr")}


def language_of(request: Request) -> str:
    query = request.query_params.get("lang")
    if query and query.strip().lower() in LANGUAGES:
        return query.strip().lower()
    kept = request.cookies.get(LANG_COOKIE, "")
    if kept in LANGUAGES:
        return kept
    return choose_language(None, request.headers.get("accept-language"))


def remember_language(request: Request, response: Response) -> None:
    """Keep a ``?lang=`` choice for the next pages."""
    query = (request.query_params.get("lang") or "").strip().lower()
    if query in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, query, samesite="strict", path="/", max_age=365 * 86400, httponly=True
        )


def gettext(lang: str, text: str) -> str:
    if lang == "id":
        return ID.get(text, text)
    return text


def when(lang: str, value: datetime) -> str:
    """``7 Dec 2026, 14:03:05 UTC``; in Indonesian ``7 Des 2026 14.03.05 UTC``."""
    v = value.astimezone(UTC)
    month = _MONTHS[lang if lang in _MONTHS else "en"][v.month - 1]
    if lang == "id":
        return f"{v.day} {month} {v.year} {v:%H.%M.%S} UTC"
    return f"{v.day} {month} {v.year}, {v:%H:%M:%S} UTC"


def age(lang: str, seconds: float) -> str:
    sec, minute, hour, day = AGE_UNITS[lang if lang in AGE_UNITS else "en"]
    s = int(seconds)
    if s < 60:
        return f"{s}{sec}"
    if s < 3600:
        return f"{s // 60}{minute}"
    if s < 86400:
        return f"{s // 3600}{hour} {s % 3600 // 60}{minute}"
    return f"{s // 86400}{day} {s % 86400 // 3600}{hour}"


#: Ready-made statements of reasons (a moderator may edit one, or write their own).
REASONS = (
    "Harassment of another person.",
    "Sexual content without consent.",
    "Nudity on camera.",
    "Spam or advertising.",
    "Hate speech.",
    "Sharing another person's private information.",
    "Threats of violence.",
    "Appears to be under the minimum age.",
    "The report does not show a breach of the rules.",
)

BAN_WARNING = (
    "This device will never be able to chat again, unless an appeal lifts the ban. "
    "The statement of reasons below is shown to the person."
)

ID: dict[str, str] = {
    # navigation and frame
    "Parley moderation": "Moderasi Parley",
    "Queue": "Antrean",
    "Appeals": "Banding",
    "Dashboard": "Dasbor",
    "Transparency": "Transparansi",
    "Audit log": "Log audit",
    "Moderators": "Moderator",
    "Change password": "Ganti kata sandi",
    "Log out": "Keluar",
    "Language": "Bahasa",
    "Main menu": "Menu utama",
    "open items": "item terbuka",
    "open appeals": "banding terbuka",
    "moderator": "moderator",
    "admin": "admin",
    "Skip to content": "Langsung ke isi",
    "Account": "Akun",
    "created. One-time password:": "dibuat. Kata sandi sekali pakai:",
    "it is not shown again; it must be changed at the first login": (
        "tidak ditampilkan lagi; harus diganti saat pertama kali masuk"
    ),
    # login and password
    "Log in": "Masuk",
    "Moderator login": "Masuk moderator",
    "Name": "Nama",
    "Password": "Kata sandi",
    "Reload the page and try again.": "Muat ulang halaman dan coba lagi.",
    "Wrong name or password.": "Nama atau kata sandi salah.",
    "Too many attempts. Try again in %(n)s s.": (
        "Terlalu banyak percobaan. Coba lagi dalam %(n)s detik."
    ),
    "Your password is a one-time password. Choose your own before you continue.": (
        "Kata sandi Anda adalah kata sandi sekali pakai. "
        "Pilih kata sandi sendiri sebelum melanjutkan."
    ),
    "Current password": "Kata sandi saat ini",
    "New password": "Kata sandi baru",
    "New password, again": "Kata sandi baru, sekali lagi",
    "At least %(n)s characters; not your current password, not your name.": (
        "Minimal %(n)s karakter; bukan kata sandi saat ini, bukan nama Anda."
    ),
    "The two new passwords differ.": "Kedua kata sandi baru berbeda.",
    "The current password is wrong.": "Kata sandi saat ini salah.",
    "The new password needs at least %(n)s characters.": "Kata sandi baru minimal %(n)s karakter.",
    "The new password is too long.": "Kata sandi baru terlalu panjang.",
    "The new password is your current one.": "Kata sandi baru sama dengan yang sekarang.",
    "The new password is your name.": "Kata sandi baru sama dengan nama Anda.",
    "Password changed.": "Kata sandi diganti.",
    # flash messages after an action
    "%(ref)s is held by another moderator or closed.": (
        "%(ref)s dipegang moderator lain atau sudah ditutup."
    ),
    "%(ref)s is under legal hold.": "%(ref)s dalam penahanan hukum.",
    "%(ref)s is back in the queue.": "%(ref)s kembali ke antrean.",
    "dismissed": "diabaikan",
    "warned": "diperingatkan",
    "banned": "dilarang",
    "banned permanently": "dilarang permanen",
    "Appeal": "Banding",
    "upheld": "dipertahankan",
    "You cannot change your own role.": "Anda tidak bisa mengubah peran Anda sendiri.",
    "role changed": "peran diubah",
    "You cannot delete yourself.": "Anda tidak bisa menghapus diri sendiri.",
    "deleted": "dihapus",
    # queue
    "Nothing to review.": "Tidak ada yang perlu ditinjau.",
    "%(n)s open reports": "%(n)s laporan terbuka",
    "%(n)s open flags": "%(n)s tanda terbuka",
    "%(n)s claimed": "%(n)s diambil",
    "oldest waiting %(age)s": "terlama menunggu %(age)s",
    "Item": "Item",
    "Category": "Kategori",
    "Priority": "Prioritas",
    "Waiting": "Menunggu",
    "Status": "Status",
    "Actions": "Tindakan",
    "Review": "Tinjau",
    "legal hold": "penahanan hukum",
    "by %(name)s": "oleh %(name)s",
    "report": "laporan",
    "flag": "tanda",
    "open": "terbuka",
    "claimed": "diambil",
    "closed": "ditutup",
    # item
    "Report": "Laporan",
    "Flag": "Tanda",
    "Received": "Diterima",
    "%(age)s ago": "%(age)s lalu",
    "Pool": "Kelompok",
    "Legal hold": "Penahanan hukum",
    "yes, since %(when)s": "ya, sejak %(when)s",
    "export bundle": "ekspor berkas",
    "no": "tidak",
    "Reporter's comment": "Komentar pelapor",
    "(none)": "(tidak ada)",
    "Details": "Rincian",
    "Evidence": "Bukti",
    "Open the still": "Buka gambar diam",
    "A still frame is stored": "Sebuah gambar diam tersimpan",
    "Known image": "Gambar yang dikenal",
    "This still comes from the teen pool: only admins may open it.": (
        "Gambar diam ini berasal dari kelompok remaja: hanya admin yang boleh membukanya."
    ),
    "This still matched a list of known abuse images: only admins may open it.": (
        "Gambar diam ini cocok dengan daftar gambar pelecehan yang dikenal: "
        "hanya admin yang boleh membukanya."
    ),
    "(each view is recorded in the audit log)": "(setiap tampilan dicatat di log audit)",
    "Reported": "Dilaporkan",
    "Reporter": "Pelapor",
    "Other person": "Orang lain",
    "No transcript lines.": "Tidak ada baris transkrip.",
    "Statement of reasons (shown to the user)": "Pernyataan alasan (ditunjukkan ke pengguna)",
    "Ready-made reasons": "Alasan siap pakai",
    "Pick a reason to start from…": "Pilih alasan sebagai awal…",
    "Dismiss": "Abaikan",
    "Warn": "Peringatkan",
    "Duration": "Durasi",
    "Temporary ban": "Larangan sementara",
    "Permanent ban": "Larangan permanen",
    "Escalate: legal hold": "Eskalasi: penahanan hukum",
    "Shortcuts": "Pintasan",
    "reasons": "alasan",
    "dismiss": "abaikan",
    "warn": "peringatkan",
    "temporary ban": "larangan sementara",
    "permanent ban": "larangan permanen",
    "escalate": "eskalasi",
    "leave the reasons box": "keluar dari kotak alasan",
    "Release to the queue": "Kembalikan ke antrean",
    "Reasons for a legal hold": "Alasan penahanan hukum",
    "Another moderator holds this item.": "Moderator lain sedang memegang item ini.",
    "History of the reported device": "Riwayat perangkat yang dilaporkan",
    "Bans": "Larangan",
    "Reports": "Laporan",
    "Flags": "Tanda",
    "none": "tidak ada",
    "permanent": "permanen",
    "until %(when)s": "sampai %(when)s",
    "lifted": "dicabut",
    "Ban permanently?": "Larang secara permanen?",
    BAN_WARNING: (
        "Perangkat ini tidak akan bisa mengobrol lagi, kecuali banding mencabut larangan. "
        "Pernyataan alasan di bawah ditunjukkan ke orang tersebut."
    ),
    "Cancel": "Batal",
    "Ban permanently": "Larang permanen",
    "Write the statement of reasons first.": "Tulis pernyataan alasan terlebih dahulu.",
    # appeals
    "No appeals waiting.": "Tidak ada banding yang menunggu.",
    "Appeal %(id)s of ban #%(ban)s, %(when)s": "Banding %(id)s atas larangan #%(ban)s, %(when)s",
    "Ban": "Larangan",
    "Reasons": "Alasan",
    "Reasons (shown to the user)": "Alasan (ditunjukkan ke pengguna)",
    "Uphold the ban": "Pertahankan larangan",
    "Lift the ban": "Cabut larangan",
    # dashboard
    "People online": "Orang daring",
    "Waiting in %(pool)s": "Menunggu di %(pool)s",
    "Matches per minute": "Pasangan per menit",
    "Reports per hour": "Laporan per jam",
    "Flags per hour": "Tanda per jam",
    "Open queue": "Antrean terbuka",
    "Oldest waiting": "Terlama menunggu",
    "Response times": "Waktu tanggapan",
    "Priority class": "Kelas prioritas",
    "Decided": "Diputuskan",
    "Median": "Median",
    "95th percentile": "Persentil ke-95",
    "Last 24 hours": "24 jam terakhir",
    "Not enough samples yet (one per minute).": "Sampel belum cukup (satu per menit).",
    # audit, moderators, transparency, errors
    "When": "Kapan",
    "Who": "Siapa",
    "Action": "Tindakan",
    "Item type": "Jenis item",
    "Actor": "Pelaku",
    "Filter": "Saring",
    "No entries.": "Tidak ada entri.",
    "Role": "Peran",
    "Last login": "Terakhir masuk",
    "Set role": "Atur peran",
    "Delete": "Hapus",
    "Add a moderator": "Tambah moderator",
    "Add": "Tambah",
    "must change the password": "harus mengganti kata sandi",
    "Transparency report": "Laporan transparansi",
    "From": "Dari",
    "To": "Sampai",
    "Show": "Tampilkan",
    "Download:": "Unduh:",
    "Figure": "Angka",
    "Breakdown": "Rincian",
    "Value": "Nilai",
    "Sorry": "Maaf",
    "Back to the queue": "Kembali ke antrean",
    "You are not allowed to do this.": "Anda tidak diizinkan melakukan ini.",
    # appeal page
    "Appeal a ban": "Ajukan banding atas larangan",
    "Checking this browser's ban…": "Memeriksa larangan pada peramban ini…",
    "Decision on your appeal": "Keputusan atas banding Anda",
    "Why you were banned": "Mengapa Anda dilarang",
    "Tell a moderator why the ban should be lifted (once per ban)": (
        "Jelaskan kepada moderator mengapa larangan harus dicabut (sekali per larangan)"
    ),
    "Send appeal": "Kirim banding",
    "Back to Parley": "Kembali ke Parley",
    "About this site": "Tentang situs ini",
    "Community rules": "Aturan komunitas",
    "Terms": "Ketentuan",
    "Privacy": "Privasi",
    "About": "Tentang",
    # ready-made reasons
    "Harassment of another person.": "Melecehkan orang lain.",
    "Sexual content without consent.": "Konten seksual tanpa persetujuan.",
    "Nudity on camera.": "Ketelanjangan di kamera.",
    "Spam or advertising.": "Spam atau iklan.",
    "Hate speech.": "Ujaran kebencian.",
    "Sharing another person's private information.": "Membagikan informasi pribadi orang lain.",
    "Threats of violence.": "Ancaman kekerasan.",
    "Appears to be under the minimum age.": "Tampaknya di bawah usia minimum.",
    "The report does not show a breach of the rules.": (
        "Laporan ini tidak menunjukkan pelanggaran aturan."
    ),
}
