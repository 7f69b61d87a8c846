"""The cases of issue 9's first list and issue 19's stories, shared by the terminal-chat
and the Telegram end-to-end tests so both channels are held to the same promises."""

from __future__ import annotations

HANDOFF_QUESTION = "chi tich cong doan co so do cty chi dinh co dung ko"

# Diacritic-free words with several readings, and the topic each must NOT be answered
# with (trễ is "late", not trẻ "child"; vô is "join", not vợ "wife"...).
NOT_CONFIDENTLY_WRONG = [
    ("xe dua don cty hay tre, em bi tru chuyen can", "child_labor"),
    ("cty tra lg tre 20 ngay", "child_labor"),
    ("sep chui mang em hoai", "harassment"),
    ("sếp chửi mắng em trước mặt mọi người", "harassment"),
    ("cty giam luong ko bao truoc", "contract_termination"),
]
JOIN_QUESTIONS = ["muon vo cong doan", "How do I join the union?", "em muốn vào công đoàn thì làm sao"]

FOREIGN_LAW = [
    "What is the minimum wage in Thailand?",
    "luong toi thieu o han quoc",
    "How many days of annual leave do workers get in Japan?",
]
CHITCHAT = ["ket qua bong da hom qua the nao", "xổ số miền bắc hôm nay ra số mấy"]

# A story in a worker's words (written for these tests, not taken from the knowledge
# base): the former employer has not closed the social-insurance record for two years.
STORY_BOOK_NOT_CLOSED = (
    "Em nghỉ việc ở công ty may từ tháng 3 năm 2024, đã bàn giao đầy đủ. Đến giờ gần hai năm rồi "
    "mà công ty cũ vẫn chưa chốt sổ bảo hiểm xã hội cho em, gọi lên phòng nhân sự thì họ cứ hẹn "
    "lần hẹn lữa. Vậy em phải làm sao để công ty chốt và trả sổ cho em ạ?"
)
STORY_ENTRIES = {"social_insurance.book_not_closed", "social_insurance.where_to_complain"}

# A story holding a name and a phone number: never in the logs.
STORY_WITH_PERSONAL_DATA = (
    "Em tên Nguyễn Văn Dũng, số điện thoại 0912 345 678, làm ở xưởng gỗ được 3 năm. Tháng trước "
    "em bị tai nạn trên đường đi làm về do xe khác tông. Cho em hỏi có được hưởng chế độ tai nạn "
    "lao động không?"
)
PERSONAL_BITS = ("Nguyễn Văn Dũng", "0912 345 678", "0912345678")

STORY_NO_QUESTION = "công ty em tệ lắm"
MIXED = "cty em bắt OT mỗi ngày 4 tiếng, is that legal?"
